"""Admins manage users through the API; the same rules hold when the CLI calls the service."""

from __future__ import annotations

import uuid

import pytest

from server.extensions import db
from server.models import Role, User
from server.services import users
from tests.helpers import bearer, create_user, ensure_territories, login
from tests.server.test_errors import assert_error

USERS = "/api/v1/admin/users"
NEW_USER = {"email": "Tom.Tech@Example.test", "name": "Tom Tech", "role": "technician",
            "password": "long-enough-pass", "territory_codes": ["NORTH"]}


@pytest.fixture
def admin_user(app):
    return create_user(app, role=Role.ADMIN, email="ada@example.test")


@pytest.fixture
def admin(client, admin_user):
    return bearer(login(client, admin_user.email, device="office")["access_token"])


@pytest.fixture
def territories(app):
    with app.app_context():
        ensure_territories(db.session, ["NORTH", "SOUTH"])
        db.session.commit()


def test_an_admin_creates_a_user_who_can_then_log_in(client, admin, territories):
    response = client.post(USERS, json=NEW_USER, headers=admin)
    assert response.status_code == 201
    created = response.get_json()
    assert created["email"] == "tom.tech@example.test"
    assert created["role"] == "technician"
    assert created["active"] is True
    assert created["territory_codes"] == ["NORTH"]
    assert "password" not in created and "password_hash" not in created
    assert login(client, "tom.tech@example.test", "long-enough-pass")["user"]["id"] == created["id"]


def test_creating_a_user_with_a_taken_email_gets_409(client, admin, territories):
    client.post(USERS, json=NEW_USER, headers=admin)
    response = client.post(USERS, json={**NEW_USER, "email": "TOM.TECH@example.test"},
                           headers=admin)
    assert "email" in assert_error(response, 409, "email_taken")["fields"]


@pytest.mark.parametrize(("change", "field"), [
    ({"role": "superuser"}, "role"),
    ({"territory_codes": ["ATLANTIS"]}, "territory_codes"),
    ({"email": "not-an-email"}, "email"),
    ({"name": 12}, "name"),
])
def test_creating_a_user_with_an_invalid_field_gets_422_naming_it(client, admin, territories,
                                                                  change, field):
    response = client.post(USERS, json={**NEW_USER, **change}, headers=admin)
    assert field in assert_error(response, 422, "validation_failed")["fields"]


def test_the_user_list_is_sorted_by_email(client, admin, app):
    create_user(app, role=Role.REP, email="zed@example.test")
    create_user(app, role=Role.REP, email="bea@example.test")
    emails = [u["email"] for u in client.get(USERS, headers=admin).get_json()["users"]]
    assert emails == ["ada@example.test", "bea@example.test", "zed@example.test"]


def test_an_admin_changes_role_territories_and_name(app, client, admin, territories):
    rep = create_user(app, role=Role.REP, territory_codes=["NORTH"])
    change = {"role": "dispatcher", "territory_codes": ["SOUTH"], "name": "Rita Dispatch"}
    body = client.patch(f"{USERS}/{rep.id}", json=change, headers=admin).get_json()
    assert (body["role"], body["territory_codes"], body["name"]) == \
        ("dispatcher", ["SOUTH"], "Rita Dispatch")
    assert client.get(f"{USERS}/{rep.id}", headers=admin).get_json() == body


def test_disabling_a_user_ends_their_sessions_and_enabling_needs_a_new_login(app, client,
                                                                            admin):
    rep = create_user(app, role=Role.REP)
    session = login(client, rep.email)
    client.patch(f"{USERS}/{rep.id}", json={"active": False}, headers=admin)
    me = client.get("/api/v1/auth/me", headers=bearer(session["access_token"]))
    assert_error(me, 401, "user_disabled")
    client.patch(f"{USERS}/{rep.id}", json={"active": True}, headers=admin)
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert_error(again, 401, "invalid_refresh_token")
    assert login(client, rep.email)["user"]["id"] == rep.id


def test_setting_a_password_signs_the_user_out_and_the_new_one_works(app, client, admin):
    rep = create_user(app, role=Role.REP)
    session = login(client, rep.email)
    client.patch(f"{USERS}/{rep.id}", json={"password": "a-brand-new-one"}, headers=admin)
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert_error(again, 401, "invalid_refresh_token")
    assert login(client, rep.email, "a-brand-new-one")


def test_an_admin_cannot_disable_or_demote_themselves(client, admin, admin_user):
    response = client.patch(f"{USERS}/{admin_user.id}", json={"active": False, "role": "rep"},
                            headers=admin)
    assert set(assert_error(response, 422, "validation_failed")["fields"]) == {"active", "role"}


def test_an_empty_patch_gets_422(app, client, admin):
    rep = create_user(app, role=Role.REP)
    assert_error(client.patch(f"{USERS}/{rep.id}", json={}, headers=admin), 422,
                 "validation_failed")


def test_a_refused_patch_changes_nothing(app, client, admin):
    rep = create_user(app, role=Role.REP)
    change = {"role": "dispatcher", "territory_codes": ["NOWHERE"]}
    assert_error(client.patch(f"{USERS}/{rep.id}", json=change, headers=admin), 422,
                 "validation_failed")
    assert client.get(f"{USERS}/{rep.id}", headers=admin).get_json()["role"] == "rep"


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_an_unknown_user_id_gets_404(client, admin, method):
    response = client.open(f"{USERS}/{uuid.uuid4()}", method=method, json={"name": "X"},
                           headers=admin)
    assert_error(response, 404, "not_found")


class TestTheUserService:
    """server.services.users as the CLI calls it."""

    def test_create_user_hashes_the_password_and_normalizes_the_email(self, app, territories):
        with app.app_context():
            user = users.create_user(db.session, email=" Pat@Example.TEST ", name="Pat",
                                     role="back_office", password="long-enough-phrase",
                                     territory_codes=["SOUTH"],
                                     hash_method=app.config["PASSWORD_HASH_METHOD"])
            db.session.commit()
            stored = db.session.get(User, user.id)
            assert stored.email == "pat@example.test"
            assert stored.role is Role.BACK_OFFICE
            assert stored.password_hash.startswith("pbkdf2:sha256")
            assert "long-enough-phrase" not in stored.password_hash
            assert [t.code for t in stored.territories] == ["SOUTH"]

    def test_the_default_hash_is_scrypt(self, app):
        assert users.hash_password("long-enough-phrase", method="scrypt").startswith("scrypt:")

    @pytest.mark.parametrize(("kwargs", "error"), [
        ({"role": "boss"}, users.InvalidRole),
        ({"password": "1234567"}, users.WeakPassword),
        ({"password": "x@example.test-2026"}, users.PasswordContainsEmail),
        ({"territory_codes": ["NOPE", "NORTH"]}, users.UnknownTerritory),
        ({"email": "@example.test"}, users.InvalidUserField),
        ({"name": "  "}, users.InvalidUserField),
    ])
    def test_invalid_input_raises_a_user_error_with_fields(self, app, territories, kwargs,
                                                           error):
        args = {"email": "x@example.test", "name": "X", "role": "rep",
                "password": "long-enough-phrase", **kwargs}
        with app.app_context(), pytest.raises(error) as raised:
            users.create_user(db.session, **args, hash_method="pbkdf2:sha256:1000")
        assert isinstance(raised.value, ValueError)
        assert raised.value.fields

    def test_a_duplicate_email_raises_duplicate_email(self, app):
        create_user(app, role=Role.REP, email="dup@example.test")
        with app.app_context(), pytest.raises(users.DuplicateEmail):
            users.create_user(db.session, email="DUP@example.test", name="Dup", role="rep",
                              password="long-enough-phrase", hash_method="pbkdf2:sha256:1000")
