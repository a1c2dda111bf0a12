"""Sessions end at once: logout, device revocation, refresh-token reuse, a new sign-in on the
device and a new password all stop the access tokens they concern on the next request."""

from __future__ import annotations

import pytest

from server.auth.devices import revoke_device
from server.extensions import db
from server.models import Device, Role, User
from server.services import users
from tests.helpers import bearer, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
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


def me(client, token):
    return client.get(ME, headers=bearer(token))


def refreshed(client, token) -> dict:
    response = client.post(REFRESH, json={"refresh_token": token})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_logout_ends_the_devices_access_token_at_once(client, session):
    assert client.post(LOGOUT, headers=bearer(session["access_token"])).status_code == 204
    assert_error(me(client, session["access_token"]), 401, "session_revoked")


def test_logout_ends_the_access_tokens_of_earlier_rotations_too(client, session, clock):
    clock.advance(minutes=1)
    newer = refreshed(client, session["refresh_token"])
    client.post(LOGOUT, headers=bearer(newer["access_token"]))
    assert_error(me(client, session["access_token"]), 401, "session_revoked")


def test_logout_leaves_the_users_other_devices_signed_in(client, rep, session):
    phone = login(client, rep.email, device="phone")
    client.post(LOGOUT, headers=bearer(session["access_token"]))
    assert me(client, phone["access_token"]).status_code == 200


def test_refresh_token_reuse_ends_the_familys_access_tokens_at_once(client, session, clock):
    clock.advance(minutes=1)
    current = refreshed(client, session["refresh_token"])
    clock.advance(minutes=1)  # past the grace period, within the access tokens' lifetime
    assert_error(client.post(REFRESH, json={"refresh_token": session["refresh_token"]}), 401,
                 "refresh_token_reused")
    for token in (session["access_token"], current["access_token"]):
        assert_error(me(client, token), 401, "session_revoked")


def test_revoking_a_device_ends_its_access_token_at_once(app, client, session, clock):
    with app.app_context():
        revoke_device(db.session, db.session.get(Device, session["device"]["id"]), now=clock())
        db.session.commit()
    assert_error(me(client, session["access_token"]), 401, "device_revoked")


def test_signing_in_again_on_a_device_ends_a_family_replayed_within_the_grace_period(
        client, rep, session, clock):
    victim = refreshed(client, session["refresh_token"])
    clock.advance(seconds=5)
    thief = refreshed(client, session["refresh_token"])  # replayed within the grace period
    assert me(client, thief["access_token"]).status_code == 200
    login(client, rep.email)  # the victim, cut off, signs in again on the same device
    assert_error(me(client, thief["access_token"]), 401, "session_revoked")
    assert_error(client.post(REFRESH, json={"refresh_token": thief["refresh_token"]}), 401,
                 "invalid_refresh_token")
    assert_error(me(client, victim["access_token"]), 401, "session_revoked")


def test_signing_in_again_on_a_device_keeps_only_the_new_session(client, rep, session):
    again = login(client, rep.email)
    assert_error(me(client, session["access_token"]), 401, "session_revoked")
    assert me(client, again["access_token"]).status_code == 200
    assert refreshed(client, again["refresh_token"])


def test_a_retry_within_the_grace_period_ends_the_access_token_of_the_lost_answer(
        client, session, clock):
    lost = refreshed(client, session["refresh_token"])
    clock.advance(seconds=5)
    retried = refreshed(client, session["refresh_token"])
    assert_error(me(client, lost["access_token"]), 401, "session_revoked")
    assert me(client, retried["access_token"]).status_code == 200


def test_an_access_token_of_an_earlier_rotation_keeps_working_until_it_expires(
        client, session, clock):
    clock.advance(minutes=1)
    refreshed(client, session["refresh_token"])
    assert me(client, session["access_token"]).status_code == 200


def test_a_new_password_ends_every_session_of_the_user_at_once(app, client, rep, session,
                                                               clock):
    phone = login(client, rep.email, device="phone")
    with app.app_context():
        users.set_password(db.session, db.session.get(User, rep.id), "a-fresh-passphrase-2",
                           hash_method=app.config["PASSWORD_HASH_METHOD"], now=clock())
        db.session.commit()
    for token in (session["access_token"], phone["access_token"]):
        assert_error(me(client, token), 401, "session_revoked")
