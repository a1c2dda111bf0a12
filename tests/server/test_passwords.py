"""The password rule: at least 12 characters, not a common password, not the email; the
admin API and `fieldsync create-user` both enforce it, with a code that says why."""

from __future__ import annotations

import pytest

from server.cli import DEMO_PASSWORD, cli
from server.services import passwords, users
from tests.helpers import bearer, create_user, login
from tests.server.test_errors import assert_error

USERS = "/api/v1/admin/users"
EMAIL = "ann.lee@example.test"

REFUSED = [
    ("12345678", "password_too_short"),
    ("password", "password_too_short"),
    (" " * 8, "password_too_short"),
    (EMAIL, "password_contains_email"),
    (" " * 12, "password_too_common"),
    ("123456789012", "password_too_common"),
    ("passwordpassword", "password_too_common"),
    ("Password2026!", "password_too_common"),
    ("qwertyuiop123", "password_too_common"),
    ("abababababab", "password_too_common"),
    ("ILoveYouForever", "password_too_common"),
    ("ann.lee-rocks-2026", "password_contains_email"),
    ("x" * 1025, "password_too_long"),
]


@pytest.fixture
def admin(app, client):
    user = create_user(app, role="admin", email="ada@example.test")
    return bearer(login(client, user.email, device="office")["access_token"])


@pytest.mark.parametrize(("password", "code"), REFUSED)
def test_the_admin_api_refuses_a_weak_password_saying_why(client, admin, password, code):
    body = {"email": EMAIL, "name": "Ann Lee", "role": "rep", "password": password}
    response = client.post(USERS, json=body, headers=admin)
    assert assert_error(response, 422, code)["fields"]["password"]


def test_the_admin_api_refuses_a_weak_new_password(app, client, admin):
    rep = create_user(app, role="rep", email=EMAIL)
    response = client.patch(f"{USERS}/{rep.id}", json={"password": "12345678"}, headers=admin)
    assert_error(response, 422, "password_too_short")


@pytest.mark.parametrize(("password", "code"), REFUSED[:5])
def test_create_user_refuses_a_weak_password(app, runner, password, code):
    result = runner.invoke(cli, ["create-user", "--email", EMAIL, "--name", "Ann Lee",
                                 "--role", "rep", "--password-stdin"], input=password + "\n")
    assert result.exit_code == 1, result.output
    assert "password:" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("password", [DEMO_PASSWORD, "correct-horse-battery", "tram lemon ink 7"])
def test_a_long_uncommon_password_is_accepted(password):
    assert passwords.password_problem(password, email=EMAIL) is None
    assert users.hash_password(password, method="pbkdf2:sha256:1000", email=EMAIL)


def test_the_common_password_list_ships_with_the_package_and_is_large():
    common = passwords.common_passwords()
    assert len(common) > 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= common
    assert DEMO_PASSWORD not in common
