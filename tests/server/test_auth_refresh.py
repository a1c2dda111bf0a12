"""Refresh tokens: rotation, sliding expiry, reuse detection with a grace period, logout."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.auth.devices import revoke_device
from server.auth.refresh import purge_expired_refresh_tokens
from server.extensions import db
from server.models import Device, RefreshToken, Role, User
from tests.helpers import bearer, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


@pytest.fixture
def clock(app):
    return freeze_clock(app)


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP)


@pytest.fixture
def session(client, rep, clock):
    return login(client, rep.email)


def refresh(client, token):
    return client.post(REFRESH, json={"refresh_token": token})


def refreshed(client, token) -> dict:
    response = refresh(client, token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def live_tokens(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(RefreshToken).where(
                RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        )


def test_a_refresh_answers_a_new_pair_for_the_same_user_and_device(client, session, clock):
    clock.advance(minutes=20)
    body = refreshed(client, session["refresh_token"])
    assert body["refresh_token"] != session["refresh_token"]
    assert body["access_token"] != session["access_token"]
    assert body["user"] == session["user"]
    assert body["device"] == session["device"]
    assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200


def test_rotation_keeps_one_family_with_one_live_token(app, client, session, clock):
    token = session["refresh_token"]
    for _ in range(3):
        clock.advance(minutes=15)
        token = refreshed(client, token)["refresh_token"]
    with app.app_context():
        families = db.session.scalars(sa.select(RefreshToken.family_id).distinct()).all()
    assert len(families) == 1
    assert live_tokens(app) == 1


def test_a_laptop_offline_for_a_week_still_refreshes(client, session, clock):
    clock.advance(days=7)
    assert_error(client.get(ME, headers=bearer(session["access_token"])), 401, "token_expired")
    body = refreshed(client, session["refresh_token"])
    assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200


def test_each_rotation_grants_a_fresh_full_lifetime(app, client, session, clock):
    days = app.config["REFRESH_TOKEN_TTL_DAYS"]
    body = session
    for _ in range(3):
        clock.advance(days=days - 1)
        body = refreshed(client, body["refresh_token"])
    # Three times the lifetime minus three days after login, the session is still alive.
    assert body["refresh_expires_in"] == days * 86400
    assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200


def test_a_refresh_token_unused_for_its_whole_lifetime_expires(app, client, session, clock):
    clock.advance(days=app.config["REFRESH_TOKEN_TTL_DAYS"])
    assert_error(refresh(client, session["refresh_token"]), 401, "refresh_token_expired")


def test_an_unknown_refresh_token_gets_401(client):
    assert_error(refresh(client, "made-up-token"), 401, "invalid_refresh_token")


def test_reusing_a_spent_token_revokes_the_whole_family(app, client, session, clock):
    stolen = session["refresh_token"]
    clock.advance(minutes=15)
    current = refreshed(client, stolen)["refresh_token"]
    clock.advance(hours=2)
    assert_error(refresh(client, stolen), 401, "refresh_token_reused")
    assert_error(refresh(client, current), 401, "invalid_refresh_token")
    assert live_tokens(app) == 0


def test_the_thief_loses_even_when_they_refresh_first(client, session, clock):
    stolen = session["refresh_token"]
    clock.advance(hours=1)
    thief = refreshed(client, stolen)["refresh_token"]
    clock.advance(hours=1)
    assert_error(refresh(client, stolen), 401, "refresh_token_reused")
    assert_error(refresh(client, thief), 401, "invalid_refresh_token")


def test_a_retry_within_the_grace_period_gets_a_new_pair_and_kills_the_lost_one(
        app, client, session, clock):
    lost = refreshed(client, session["refresh_token"])["refresh_token"]
    clock.advance(seconds=app.config["REFRESH_REUSE_GRACE_SECONDS"])
    retried = refreshed(client, session["refresh_token"])["refresh_token"]
    assert_error(refresh(client, lost), 401, "invalid_refresh_token")
    assert live_tokens(app) == 1
    clock.advance(minutes=15)
    assert refreshed(client, retried)["refresh_token"]


def test_a_second_retry_within_the_grace_period_also_works(app, client, session, clock):
    first_lost = refreshed(client, session["refresh_token"])["refresh_token"]
    clock.advance(seconds=5)
    second_lost = refreshed(client, session["refresh_token"])["refresh_token"]
    clock.advance(seconds=5)
    kept = refreshed(client, session["refresh_token"])["refresh_token"]
    for dead in (first_lost, second_lost):
        assert_error(refresh(client, dead), 401, "invalid_refresh_token")
    assert refreshed(client, kept)


def test_reuse_after_the_grace_period_revokes_the_family(app, client, session, clock):
    refreshed(client, session["refresh_token"])
    clock.advance(seconds=app.config["REFRESH_REUSE_GRACE_SECONDS"] + 1)
    assert_error(refresh(client, session["refresh_token"]), 401, "refresh_token_reused")
    assert live_tokens(app) == 0


def test_reuse_within_the_grace_period_of_an_already_rotated_branch_revokes_the_family(
        app, client, session, clock):
    successor = refreshed(client, session["refresh_token"])["refresh_token"]
    clock.advance(seconds=2)
    refreshed(client, successor)
    clock.advance(seconds=2)
    assert_error(refresh(client, session["refresh_token"]), 401, "refresh_token_reused")
    assert live_tokens(app) == 0


def test_reuse_in_one_family_leaves_the_other_devices_signed_in(app, client, rep, session,
                                                                 clock):
    phone = login(client, rep.email, device="phone")
    refreshed(client, session["refresh_token"])
    clock.advance(hours=1)
    assert_error(refresh(client, session["refresh_token"]), 401, "refresh_token_reused")
    assert refreshed(client, phone["refresh_token"])


def test_logout_revokes_the_devices_refresh_tokens(client, session):
    response = client.post("/api/v1/auth/logout", headers=bearer(session["access_token"]))
    assert response.status_code == 204
    assert_error(refresh(client, session["refresh_token"]), 401, "invalid_refresh_token")


def test_a_revoked_device_can_neither_refresh_nor_call_the_api(app, client, session, clock):
    with app.app_context():
        revoke_device(db.session, db.session.get(Device, session["device"]["id"]), now=clock())
        db.session.commit()
    assert_error(refresh(client, session["refresh_token"]), 401, "device_revoked")
    assert_error(client.get(ME, headers=bearer(session["access_token"])), 401, "device_revoked")


def test_a_disabled_user_cannot_refresh(app, client, rep, session):
    with app.app_context():
        db.session.get(User, rep.id).active = False
        db.session.commit()
    assert_error(refresh(client, session["refresh_token"]), 401, "user_disabled")


def test_the_refresh_body_is_validated(client):
    assert_error(client.post(REFRESH, json={}), 422, "validation_failed")
    assert_error(client.post(REFRESH, json={"refresh_token": 7}), 422, "validation_failed")
    assert_error(client.post(REFRESH, data="x"), 415, "unsupported_media_type")


def test_expired_refresh_tokens_can_be_purged(app, client, session, clock):
    clock.advance(days=app.config["REFRESH_TOKEN_TTL_DAYS"] + 1)
    with app.app_context():
        assert purge_expired_refresh_tokens(db.session, now=clock()) == 1
        db.session.commit()
    assert live_tokens(app) == 0
