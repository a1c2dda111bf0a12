"""Login rate limiting per email and per address, counted in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server import create_app
from server.auth.ratelimit import purge_login_attempts
from server.config import ConfigError
from server.extensions import db
from server.models import LoginAttempt, Role
from tests.conftest import TEST_CONFIG, app_on
from tests.helpers import DEFAULT_PASSWORD, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def clock(app):
    app.config.update(LOGIN_LIMIT_PER_USER=3, LOGIN_LIMIT_PER_ADDRESS=5,
                      LOGIN_LIMIT_WINDOW_SECONDS=300)
    return freeze_clock(app)


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP)


def attempt(client, email, password="wrong-password", address="198.51.100.1"):
    return client.post(LOGIN, json={"email": email, "password": password, "device_name": "pc"},
                       environ_base={"REMOTE_ADDR": address})


def test_failures_beyond_the_per_user_limit_get_429_with_retry_after(client, rep, clock):
    for n in range(3):
        assert_error(attempt(client, rep.email, address=f"10.0.0.{n}"), 401,
                     "invalid_credentials")
    clock.advance(seconds=60)
    response = attempt(client, rep.email, DEFAULT_PASSWORD, address="10.0.0.9")
    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "240"


def test_the_per_user_limit_ignores_the_case_of_the_email(client, rep, clock):
    for variant in (rep.email.upper(), rep.email, rep.email.title()):
        attempt(client, variant)
    assert_error(attempt(client, rep.email), 429, "rate_limited")


def test_the_per_user_limit_lifts_when_the_window_has_passed(client, rep, clock):
    for _ in range(3):
        attempt(client, rep.email)
    clock.advance(seconds=300)
    assert login(client, rep.email)["user"]["id"] == rep.id


def test_refused_attempts_do_not_extend_the_lock_out(client, rep, clock):
    for _ in range(3):
        attempt(client, rep.email)
    for _ in range(10):
        clock.advance(seconds=20)
        attempt(client, rep.email)
    clock.advance(seconds=100)
    assert login(client, rep.email)["user"]["id"] == rep.id


def test_successful_logins_are_not_counted(client, rep, clock):
    for n in range(6):
        login(client, rep.email, device=f"device-{n}")


def test_failures_from_one_address_beyond_its_limit_get_429(client, clock):
    for n in range(5):
        assert_error(attempt(client, f"guess{n}@example.test"), 401, "invalid_credentials")
    response = attempt(client, "guess9@example.test")
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) == 300


def test_the_address_limit_does_not_lock_out_other_addresses(client, rep, clock):
    for n in range(5):
        attempt(client, f"guess{n}@example.test")
    assert attempt(client, rep.email, DEFAULT_PASSWORD, address="203.0.113.5").status_code == 200


def test_the_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(client, rep,
                                                                             clock):
    for _ in range(4):
        attempt(client, rep.email)
        clock.advance(seconds=10)
    # Failures at 0, 10, 20 filled the limit; the one at 30 was refused and not recorded.
    response = attempt(client, rep.email)
    assert response.headers["Retry-After"] == str(300 - 40)


def test_old_attempts_can_be_purged(app, client, rep, clock):
    attempt(client, rep.email)
    clock.advance(hours=2)
    attempt(client, rep.email)
    with app.app_context():
        assert purge_login_attempts(db.session, clock() - timedelta(hours=1)) == 1
        db.session.commit()
        remaining = db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt))
    assert remaining == 1


@pytest.fixture
def proxied_app(database_url):
    """The app as deployed behind one reverse proxy (TRUSTED_PROXIES=1)."""
    with app_on(database_url, TRUSTED_PROXIES=1, LOGIN_LIMIT_PER_USER=100,
                  LOGIN_LIMIT_PER_ADDRESS=2) as app:
        yield app


def attempt_via_proxy(client, email, client_address):
    return client.post(LOGIN, json={"email": email, "password": "wrong", "device_name": "pc"},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"},
                       headers={"X-Forwarded-For": client_address})


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(proxied_app):
    client, rep = proxied_app.test_client(), create_user(proxied_app, role=Role.REP)
    for _ in range(2):
        assert_error(attempt_via_proxy(client, rep.email, "203.0.113.7"), 401,
                     "invalid_credentials")
    assert_error(attempt_via_proxy(client, rep.email, "203.0.113.7"), 429, "rate_limited")
    # another field laptop behind the same proxy is not locked out with it
    assert_error(attempt_via_proxy(client, rep.email, "203.0.113.8"), 401,
                 "invalid_credentials")


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client, clock):
    for n in range(5):  # a client cannot dodge the address limit by inventing addresses
        assert_error(attempt_via_proxy(client, f"guess{n}@example.test", f"203.0.113.{n}"),
                     401, "invalid_credentials")
    assert_error(attempt_via_proxy(client, "guess9@example.test", "203.0.113.99"), 429,
                 "rate_limited")


def test_a_negative_number_of_proxies_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        create_app({**TEST_CONFIG, "TRUSTED_PROXIES": -1}, env={})
