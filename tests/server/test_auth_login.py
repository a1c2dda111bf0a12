"""Login: credentials on a named device give a session; every bad request gets the error shape."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Device, LoginAttempt, RefreshToken, Role, User
from tests.helpers import DEFAULT_PASSWORD, bearer, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP, email="Rita.Rep@Example.test",
                       territory_codes=["NORTH", "EAST"])


def credentials(user, **changes):
    return {"email": user.email, "password": DEFAULT_PASSWORD, "device_name": "laptop",
            **changes}


def test_login_answers_tokens_user_and_device(app, client, rep):
    body = login(client, rep.email, device="rita-laptop")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["ACCESS_TOKEN_TTL_SECONDS"]
    assert body["refresh_expires_in"] == app.config["REFRESH_TOKEN_TTL_DAYS"] * 86400
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["id"] == rep.id
    assert body["user"]["email"] == "rita.rep@example.test"
    assert body["user"]["role"] == "rep"
    assert len(body["user"]["territory_ids"]) == 2
    assert body["device"]["name"] == "rita-laptop"
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token",
                         "refresh_expires_in", "user", "device"}


def test_emails_are_compared_case_insensitively(client, rep):
    assert login(client, "  RITA.REP@example.TEST ")["user"]["id"] == rep.id


def test_logging_in_again_on_the_same_device_name_reuses_the_device(client, rep):
    first = login(client, rep.email, device="tablet")
    second = login(client, rep.email, device=" tablet ")
    third = login(client, rep.email, device="phone")
    assert first["device"]["id"] == second["device"]["id"] != third["device"]["id"]


def test_login_records_when_and_where_the_device_was_seen(app, client, rep):
    clock = freeze_clock(app)
    body = client.post(LOGIN, json=credentials(rep),
                       environ_base={"REMOTE_ADDR": "192.0.2.7"}).get_json()
    with app.app_context():
        device = db.session.get(Device, body["device"]["id"])
        assert device.last_seen_at == clock()
        assert device.last_seen_ip == "192.0.2.7"


def test_the_refresh_token_is_stored_only_as_a_hash(app, client, rep):
    body = login(client, rep.email)
    with app.app_context():
        stored = db.session.scalars(sa.select(RefreshToken.token_hash)).all()
    assert len(stored) == 1
    assert body["refresh_token"] not in stored[0]
    assert len(stored[0]) == 64


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(client, rep):
    wrong = client.post(LOGIN, json=credentials(rep, password="not-the-password"))
    unknown = client.post(LOGIN, json=credentials(rep, email="nobody@example.test"))
    assert assert_error(wrong, 401, "invalid_credentials") == \
        assert_error(unknown, 401, "invalid_credentials")


def test_a_disabled_user_cannot_log_in_even_with_the_right_password(app, client, rep):
    with app.app_context():
        db.session.get(User, rep.id).active = False
        db.session.commit()
    assert_error(client.post(LOGIN, json=credentials(rep)), 401, "invalid_credentials")


def test_a_revoked_device_name_cannot_be_used_again(app, client, rep):
    body = login(client, rep.email, device="stolen-laptop")
    with app.app_context():
        device = db.session.get(Device, body["device"]["id"])
        device.revoked_at = device.created_at
        db.session.commit()
    response = client.post(LOGIN, json=credentials(rep, device_name="stolen-laptop"))
    assert_error(response, 403, "device_name_revoked")
    assert login(client, rep.email, device="new-laptop")["device"]["name"] == "new-laptop"


def test_every_checked_attempt_is_recorded(app, client, rep):
    client.post(LOGIN, json=credentials(rep, password="wrong-password"))
    login(client, rep.email)
    with app.app_context():
        attempts = db.session.execute(
            sa.select(LoginAttempt.email, LoginAttempt.success).order_by(LoginAttempt.id)
        ).all()
    assert [tuple(a) for a in attempts] == [(rep.email, False), (rep.email, True)]


def test_the_access_token_from_login_authenticates(client, rep):
    body = login(client, rep.email)
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.get_json()["user"]["id"] == rep.id


class TestLoginBodyValidation:
    def test_missing_fields_are_each_named(self, client):
        error = assert_error(client.post(LOGIN, json={}), 422, "validation_failed")
        assert set(error["fields"]) == {"email", "password", "device_name"}

    def test_fields_of_the_wrong_type_are_named(self, client, rep):
        body = credentials(rep, email=42, password=["x"], device_name={"n": 1})
        error = assert_error(client.post(LOGIN, json=body), 422, "validation_failed")
        assert set(error["fields"]) == {"email", "password", "device_name"}

    def test_an_empty_device_name_is_refused(self, client, rep):
        response = client.post(LOGIN, json=credentials(rep, device_name="   "))
        assert "device_name" in assert_error(response, 422, "validation_failed")["fields"]

    def test_unknown_fields_are_refused(self, client, rep):
        response = client.post(LOGIN, json=credentials(rep, remember_me=True))
        assert "remember_me" in assert_error(response, 422, "validation_failed")["fields"]

    def test_a_body_that_is_not_an_object_is_refused(self, client):
        assert_error(client.post(LOGIN, json=["a", "list"]), 422, "validation_failed")

    def test_a_form_body_gets_415(self, client, rep):
        response = client.post(LOGIN, data=credentials(rep))
        assert_error(response, 415, "unsupported_media_type")

    def test_malformed_json_gets_400_malformed_json(self, client):
        response = client.post(LOGIN, data='{"email": ', content_type="application/json")
        assert_error(response, 400, "malformed_json")

    def test_an_oversized_body_gets_413(self, app, client, rep):
        app.config["MAX_CONTENT_LENGTH"] = 1024
        response = client.post(LOGIN, json=credentials(rep, password="x" * 2000))
        assert_error(response, 413, "payload_too_large")

    def test_a_refused_body_is_not_counted_as_a_login_attempt(self, app, client):
        client.post(LOGIN, json={"email": "x@example.test"})
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0
