"""Access tokens: every bad token gets 401 in the error shape; good ones identify the caller."""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from datetime import timedelta

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from server.auth import tokens
from server.auth.clock import install_clock
from server.auth.settings import AuthSettings
from server.auth.tokens import issue_access_token
from server.extensions import db
from server.models import Device, Role, User
from sync.sqltypes import utcnow
from tests.helpers import bearer, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

ME = "/api/v1/auth/me"


@pytest.fixture
def clock(app):
    return freeze_clock(app)


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP, territory_codes=["NORTH"])


@pytest.fixture
def session(client, rep):
    return login(client, rep.email)


def claims_of(app, session, **changes):
    """Valid claims for the signed-in session, with `changes` applied (None removes one)."""
    now = int(time.time())
    claims = {
        "sub": session["user"]["id"],
        "did": session["device"]["id"],
        "sid": _claims(session)["sid"],
        "role": session["user"]["role"],
        "iss": app.config["JWT_ISSUER"],
        "aud": app.config["JWT_AUDIENCE"],
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _claims(session) -> dict:
    return jwt.decode(session["access_token"], options={"verify_signature": False})


def signed(app, claims, *, key=None, algorithm="HS256"):
    return jwt.encode(claims, key or app.config["SECRET_KEY"], algorithm=algorithm)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_identifies_the_user_and_device(client, rep, session):
    response = client.get(ME, headers=bearer(session["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == rep.email
    assert body["user"]["role"] == "rep"
    assert len(body["user"]["territory_ids"]) == 1
    assert body["device"] == session["device"]


def test_a_request_without_authorization_header_gets_401_unauthorized(client):
    response = client.get(ME)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
def test_a_header_that_is_not_a_bearer_token_gets_401_unauthorized(client, header):
    assert_error(client.get(ME, headers={"Authorization": header}), 401, "unauthorized")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "....", "ey.ey.ey"])
def test_a_malformed_token_gets_401_invalid_token(client, token):
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_an_unsigned_alg_none_token_gets_401_invalid_token(app, client, session):
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_of(app, session))}."
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_a_token_signed_with_another_algorithm_gets_401_invalid_token(app, client, session):
    with warnings.catch_warnings():
        # The test key is short for HS512, which is beside the point here.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = signed(app, claims_of(app, session), algorithm="HS512")
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_a_tampered_token_gets_401_invalid_token(app, client, session):
    header, _, signature = session["access_token"].split(".")
    forged = b64(claims_of(app, session, role="admin"))
    token = f"{header}.{forged}.{signature}"
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_a_token_signed_with_another_key_gets_401_invalid_token(app, client, session):
    token = signed(app, claims_of(app, session), key="another-secret-key-also-long-enough-0123")
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_an_expired_token_gets_401_token_expired(app, client, session):
    past = int(time.time()) - 3600
    token = signed(app, claims_of(app, session, iat=past, nbf=past, exp=past + 900))
    assert_error(client.get(ME, headers=bearer(token)), 401, "token_expired")


def test_a_token_expires_after_the_configured_lifetime(app, client, rep, clock):
    session = login(client, rep.email)
    clock.advance(seconds=app.config["ACCESS_TOKEN_TTL_SECONDS"] - 1)
    assert client.get(ME, headers=bearer(session["access_token"])).status_code == 200
    clock.advance(seconds=1)
    assert_error(client.get(ME, headers=bearer(session["access_token"])), 401, "token_expired")


def test_a_token_is_verified_once_and_its_lifetime_judged_on_every_request(
        app, client, rep, clock, monkeypatch):
    session = login(client, rep.email)
    tokens._verified.cache_clear()
    verified = []
    decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: verified.append(a[0]) or decode(*a, **k))
    for _ in range(3):
        assert client.get(ME, headers=bearer(session["access_token"])).status_code == 200
    assert verified == [session["access_token"]]
    clock.advance(seconds=app.config["ACCESS_TOKEN_TTL_SECONDS"])
    assert_error(client.get(ME, headers=bearer(session["access_token"])), 401, "token_expired")
    # the kept claims are those of that key: under another secret the token is refused
    app.config["SECRET_KEY"] = "another-secret-key-that-is-long-enough-0123456789"
    clock.advance(seconds=-60)
    assert_error(client.get(ME, headers=bearer(session["access_token"])), 401, "invalid_token")


def test_a_token_not_valid_yet_gets_401_invalid_token(app, client, session):
    future = int(time.time()) + 3600
    token = signed(app, claims_of(app, session, iat=future, nbf=future, exp=future + 900))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_a_token_for_another_issuer_or_audience_gets_401_invalid_token(app, client, session,
                                                                       claim):
    token = signed(app, claims_of(app, session, **{claim: "someone-else"}))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "did", "sid", "role", "iss", "aud", "iat", "nbf", "exp",
                                   "jti"])
def test_a_token_missing_a_required_claim_gets_401_invalid_token(app, client, session, claim):
    token = signed(app, claims_of(app, session, **{claim: None}))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("changes", [{"sub": 42}, {"did": "not-a-uuid"}, {"sid": "not-a-uuid"},
                                     {"exp": "tomorrow"},
                                     {"iat": True}, {"exp": 10**20}, {"iat": -1}])
def test_a_token_with_mistyped_claims_gets_401_invalid_token(app, client, session, changes):
    token = signed(app, claims_of(app, session, **changes))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_a_token_naming_a_device_of_another_user_gets_401_invalid_token(app, client, session):
    other = login(client, create_user(app, role=Role.TECHNICIAN).email)
    token = signed(app, claims_of(app, session, did=other["device"]["id"]))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_a_token_of_a_revoked_device_gets_401_device_revoked(app, client, session):
    with app.app_context():
        db.session.get(Device, session["device"]["id"]).revoked_at = utcnow()
        db.session.commit()
    response = client.get(ME, headers=bearer(session["access_token"]))
    assert_error(response, 401, "device_revoked")


def test_a_token_of_a_disabled_user_gets_401_user_disabled(app, client, rep, session):
    with app.app_context():
        db.session.get(User, rep.id).active = False
        db.session.commit()
    response = client.get(ME, headers=bearer(session["access_token"]))
    assert_error(response, 401, "user_disabled")


def test_the_role_in_the_database_counts_not_the_one_in_the_token(app, client, rep, session):
    with app.app_context():
        db.session.get(User, rep.id).role = Role.TECHNICIAN
        db.session.commit()
    body = client.get(ME, headers=bearer(session["access_token"])).get_json()
    assert body["user"]["role"] == "technician"


def test_issued_tokens_carry_the_documented_claims(app, client, session):
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert set(claims) == {"sub", "did", "sid", "role", "iss", "aud", "iat", "nbf", "exp", "jti"}
    assert jwt.get_unverified_header(session["access_token"])["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == app.config["ACCESS_TOKEN_TTL_SECONDS"]
    assert session["expires_in"] == app.config["ACCESS_TOKEN_TTL_SECONDS"]


def test_authenticated_requests_record_last_seen_at_most_once_a_minute(app, client, rep, clock):
    session = login(client, rep.email)
    headers = bearer(session["access_token"])
    first_seen = clock()

    def last_seen():
        with app.app_context():
            return db.session.get(Device, session["device"]["id"]).last_seen_at

    clock.advance(seconds=30)
    client.get(ME, headers=headers)
    assert last_seen() == first_seen
    clock.advance(seconds=31)
    client.get(ME, headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert last_seen() == clock()
    with app.app_context():
        assert db.session.get(Device, session["device"]["id"]).last_seen_ip == "10.1.2.3"


def test_token_lifetimes_are_judged_by_the_injected_clock(app, client, session):
    later = freeze_clock(app).advance(minutes=5)
    settings = AuthSettings.from_config(app.config)
    token = issue_access_token(settings, user_id=session["user"]["id"],
                               device_id=session["device"]["id"],
                               session_id=_claims(session)["sid"], role="rep", now=later)
    assert client.get(ME, headers=bearer(token)).status_code == 200
    install_clock(app, lambda: later - timedelta(minutes=1))
    assert_error(client.get(ME, headers=bearer(token)), 401, "invalid_token")
