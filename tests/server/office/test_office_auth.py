"""The office's sign-in: roles, the session cookie, CSRF, sign-out and the login limit."""

from __future__ import annotations

import pytest

from server.models import Role
from tests.helpers import create_user
from tests.server.office.pages import csrf_of

OFFICE = (Role.DISPATCHER, Role.BACK_OFFICE, Role.ADMIN)


def office_sign_in(client, user, password=None):
    """Sign in through the office form; answers the response of the POST."""
    token = csrf_of(client.get("/office/sign-in").data)
    return client.post("/office/sign-in", data={
        "email": user.email, "password": password or user.password, "csrf_token": token})


@pytest.mark.parametrize("role", OFFICE)
def test_an_office_user_signs_in_and_sees_today(app, client, role):
    user = create_user(app, role=role)
    answer = office_sign_in(client, user)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/office/")
    page = client.get("/office/")
    assert page.status_code == 200 and b"<h1>Today</h1>" in page.data


@pytest.mark.parametrize("role", (Role.REP, Role.TECHNICIAN))
def test_reps_and_technicians_are_refused_the_office(app, client, role):
    user = create_user(app, role=role)
    answer = office_sign_in(client, user)
    assert answer.status_code == 403 and b"field app" in answer.data
    assert client.get("/office/").status_code == 302  # still signed out


def test_a_sign_in_without_the_csrf_token_is_refused(app, client):
    user = create_user(app, role=Role.ADMIN)
    client.get("/office/sign-in")
    answer = client.post("/office/sign-in", data={"email": user.email,
                                                  "password": user.password})
    assert answer.status_code == 400
    assert client.get("/office/").status_code == 302


def test_a_form_with_another_sessions_csrf_token_is_refused(app, client):
    user = create_user(app, role=Role.ADMIN)
    other = app.test_client()
    stolen = csrf_of(other.get("/office/sign-in").data)
    office_sign_in(client, user)
    answer = client.post("/office/sign-out", data={"csrf_token": stolen})
    assert answer.status_code == 400
    assert client.get("/office/").status_code == 200  # still signed in


def test_the_session_cookie_is_httponly_and_samesite_lax_and_secure_over_https(app):
    user = create_user(app, role=Role.ADMIN)
    plain = app.test_client()
    cookie = office_sign_in(plain, user).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    tls = app.test_client()
    token = csrf_of(tls.get("/office/sign-in", base_url="https://localhost").data)
    answer = tls.post("/office/sign-in", base_url="https://localhost", data={
        "email": user.email, "password": user.password, "csrf_token": token})
    assert "Secure" in answer.headers["Set-Cookie"]


def test_signing_out_ends_the_session(app, client):
    user = create_user(app, role=Role.DISPATCHER)
    office_sign_in(client, user)
    token = csrf_of(client.get("/office/").data)
    assert client.post("/office/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/office/").status_code == 302


def test_a_wrong_password_is_refused_and_counted_by_the_login_limit(app, client):
    app.config["LOGIN_LIMIT_PER_USER"] = 2
    user = create_user(app, role=Role.ADMIN)
    assert office_sign_in(client, user, password="wrong-password-1").status_code == 401
    assert office_sign_in(client, user, password="wrong-password-2").status_code == 401
    throttled = office_sign_in(client, user)
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


def test_a_disabled_user_is_signed_out_of_the_office_at_once(app, client):
    from server.extensions import db
    from server.models import User

    user = create_user(app, role=Role.BACK_OFFICE)
    office_sign_in(client, user)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert client.get("/office/").status_code == 302


def test_sign_in_sends_only_to_pages_inside_the_office(app, client):
    user = create_user(app, role=Role.ADMIN)
    token = csrf_of(client.get("/office/sign-in").data)
    answer = client.post("/office/sign-in?next=https://evil.example/", data={
        "email": user.email, "password": user.password, "csrf_token": token})
    assert answer.headers["Location"] == "/office/"


@pytest.mark.parametrize("path", ["/", "/admin", "/office"])
def test_the_places_people_look_for_the_office_lead_to_it(client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and answer.headers["Location"] == "/office/"


@pytest.mark.parametrize("proxies, secure", [(1, True), (0, False)])
def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(database_url, proxies, secure):
    from tests.conftest import app_on

    with app_on(database_url, TRUSTED_PROXIES=proxies) as app:
        user = create_user(app, role=Role.ADMIN)
        client = app.test_client()
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        token = csrf_of(client.get("/office/sign-in", headers=proxied).data)
        answer = client.post("/office/sign-in", headers=proxied, data={
            "email": user.email, "password": user.password, "csrf_token": token})
        assert answer.status_code == 302
        assert ("Secure" in answer.headers["Set-Cookie"]) is secure
