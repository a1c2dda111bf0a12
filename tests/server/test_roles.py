"""Roles: field roles cannot administer, office roles may read, only admins change things."""

from __future__ import annotations

import pytest
from flask import Blueprint

from server.auth import Principal, current_principal, login_required
from server.extensions import db
from server.models import Role
from tests.helpers import bearer, create_user, login
from tests.server.test_errors import assert_error

SOME_ID = "00000000-0000-4000-8000-000000000000"  # fixed: xdist workers must collect alike
ADMIN_READS = [("GET", "/api/v1/admin/devices"), ("GET", "/api/v1/admin/users"),
               ("GET", f"/api/v1/admin/users/{SOME_ID}")]
ADMIN_WRITES = [("POST", f"/api/v1/admin/devices/{SOME_ID}/revoke"),
                ("POST", "/api/v1/admin/users"), ("PATCH", f"/api/v1/admin/users/{SOME_ID}")]


def token_for(app, client, role):
    return login(client, create_user(app, role=role).email)["access_token"]


@pytest.mark.parametrize("role", [Role.REP, Role.TECHNICIAN])
@pytest.mark.parametrize(("method", "url"), ADMIN_READS + ADMIN_WRITES)
def test_field_roles_get_403_on_every_admin_endpoint(app, client, role, method, url):
    headers = bearer(token_for(app, client, role))
    response = client.open(url, method=method, json={}, headers=headers)
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.BACK_OFFICE])
@pytest.mark.parametrize(("method", "url"), ADMIN_WRITES)
def test_office_roles_other_than_admin_get_403_on_admin_changes(app, client, role, method, url):
    headers = bearer(token_for(app, client, role))
    response = client.open(url, method=method, json={}, headers=headers)
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.BACK_OFFICE, Role.ADMIN])
def test_office_roles_may_list_users_and_devices(app, client, role):
    headers = bearer(token_for(app, client, role))
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 200
    assert client.get("/api/v1/admin/devices", headers=headers).status_code == 200


def test_a_role_change_applies_to_the_next_request(app, client):
    admin = login(client, create_user(app, role=Role.ADMIN).email)["access_token"]
    rep = create_user(app, role=Role.REP)
    rep_token = login(client, rep.email)["access_token"]
    assert client.get("/api/v1/admin/users", headers=bearer(rep_token)).status_code == 403
    client.patch(f"/api/v1/admin/users/{rep.id}", json={"role": "dispatcher"},
                 headers=bearer(admin))
    assert client.get("/api/v1/admin/users", headers=bearer(rep_token)).status_code == 200


class TestTheDecorator:
    """login_required and current_principal as other blueprints use them."""

    @pytest.fixture
    def probe_app(self, app):
        probe = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

        @probe.get("/anyone")
        @login_required
        def anyone():
            principal = current_principal()
            assert isinstance(principal, Principal)
            return {"user_id": principal.user_id, "device_id": principal.device_id,
                    "role": principal.role, "email": principal.user.email,
                    "device": principal.device.name}

        @probe.get("/session")
        @login_required
        def session_state():
            return {"in_transaction": db.session().in_transaction()}

        @probe.get("/technicians")
        @login_required(Role.TECHNICIAN, "dispatcher")
        def technicians():
            return {"ok": True}

        app.register_blueprint(probe)
        return app

    def test_a_bare_decorator_admits_any_signed_in_user(self, probe_app, client):
        user = create_user(probe_app, role=Role.REP)
        session = login(client, user.email, device="van-tablet")
        body = client.get("/api/v1/probe/anyone", headers=bearer(session["access_token"]))
        assert body.get_json() == {"user_id": user.id, "device_id": session["device"]["id"],
                                   "role": "rep", "email": user.email, "device": "van-tablet"}

    def test_the_check_leaves_the_view_no_open_transaction(self, probe_app, client):
        # A view that writes must not find a read transaction of the check still open.
        token = token_for(probe_app, client, Role.REP)
        for _ in range(2):  # the device is marked seen by the first request only
            body = client.get("/api/v1/probe/session", headers=bearer(token)).get_json()
            assert body == {"in_transaction": False}

    def test_the_check_hands_its_connection_back_out_of_autocommit_mode(self, probe_app,
                                                                         client):
        # It reads in autocommit mode on PostgreSQL; a pooled connection left so would run a
        # later push without a transaction.
        token = token_for(probe_app, client, Role.REP)
        client.get("/api/v1/probe/session", headers=bearer(token))
        with probe_app.app_context():
            connections = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
            try:
                assert connections
                for conn in connections:
                    # psycopg's switch; sqlite3 (before 3.12) has none.
                    assert getattr(conn.connection.dbapi_connection, "autocommit", None) \
                        is not True
            finally:
                for conn in connections:
                    conn.close()

    def test_roles_may_be_given_as_enum_members_or_names(self, probe_app, client):
        for role, status in [(Role.TECHNICIAN, 200), (Role.DISPATCHER, 200), (Role.REP, 403)]:
            token = token_for(probe_app, client, role)
            url = "/api/v1/probe/technicians"
            assert client.get(url, headers=bearer(token)).status_code == status

    def test_an_unknown_role_fails_when_the_view_is_declared(self):
        with pytest.raises(ValueError, match="superuser"):
            login_required("superuser")

    def test_current_principal_outside_a_protected_view_is_a_programming_error(self, app):
        with app.test_request_context("/"), pytest.raises(RuntimeError):
            current_principal()
