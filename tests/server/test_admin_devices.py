"""Admins see every device and can revoke one: its sessions end at once."""

from __future__ import annotations

import uuid

import pytest

from server.models import Role
from tests.helpers import bearer, create_user, freeze_clock, login
from tests.server.test_errors import assert_error

DEVICES = "/api/v1/admin/devices"


@pytest.fixture
def clock(app):
    return freeze_clock(app)


@pytest.fixture
def admin(app, client):
    return bearer(login(client, create_user(app, role=Role.ADMIN).email, device="office")[
        "access_token"])


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP, email="rita@example.test")


def test_the_device_list_shows_owner_creation_last_seen_and_revocation(client, admin, rep,
                                                                       clock):
    session = login(client, rep.email, device="rita-laptop")
    devices = client.get(DEVICES, headers=admin).get_json()["devices"]
    listed = next(d for d in devices if d["id"] == session["device"]["id"])
    assert listed["name"] == "rita-laptop"
    assert listed["user"] == {"id": rep.id, "email": rep.email, "name": rep.name}
    assert listed["created_at"] == clock().isoformat()
    assert listed["last_seen_at"] == clock().isoformat()
    assert listed["last_seen_ip"] == "127.0.0.1"
    assert listed["revoked"] is False
    assert listed["revoked_at"] is None


def test_the_device_list_can_be_filtered_by_user_and_revocation(client, admin, rep):
    login(client, rep.email, device="laptop")
    tablet = login(client, rep.email, device="tablet")
    client.post(f"{DEVICES}/{tablet['device']['id']}/revoke", headers=admin)

    def names(query):
        return sorted(d["name"] for d in client.get(DEVICES, query_string=query,
                                                      headers=admin).get_json()["devices"])

    assert names({"user_id": rep.id}) == ["laptop", "tablet"]
    assert names({"user_id": rep.id, "revoked": "true"}) == ["tablet"]
    assert names({"user_id": rep.id, "revoked": "false"}) == ["laptop"]


def test_a_bad_device_filter_gets_422(client, admin):
    response = client.get(DEVICES, query_string={"user_id": "nope"}, headers=admin)
    assert "user_id" in assert_error(response, 422, "validation_failed")["fields"]


def test_revoking_a_device_ends_its_access_and_refresh_tokens(client, admin, rep, clock):
    session = login(client, rep.email, device="stolen-laptop")
    response = client.post(f"{DEVICES}/{session['device']['id']}/revoke", headers=admin)
    assert response.status_code == 200
    assert response.get_json()["revoked_at"] == clock().isoformat()
    me = client.get("/api/v1/auth/me", headers=bearer(session["access_token"]))
    assert_error(me, 401, "device_revoked")
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert_error(again, 401, "device_revoked")


def test_revoking_one_device_leaves_the_users_other_devices_working(client, admin, rep):
    laptop = login(client, rep.email, device="laptop")
    tablet = login(client, rep.email, device="tablet")
    client.post(f"{DEVICES}/{laptop['device']['id']}/revoke", headers=admin)
    assert client.get("/api/v1/auth/me", headers=bearer(tablet["access_token"])).status_code == 200


def test_revoking_twice_keeps_the_first_revocation_time(client, admin, rep, clock):
    session = login(client, rep.email)
    url = f"{DEVICES}/{session['device']['id']}/revoke"
    first = client.post(url, headers=admin).get_json()["revoked_at"]
    clock.advance(minutes=10)
    assert client.post(url, headers=admin).get_json()["revoked_at"] == first


def test_revoking_an_unknown_device_gets_404(client, admin):
    response = client.post(f"{DEVICES}/{uuid.uuid4()}/revoke", headers=admin)
    assert_error(response, 404, "not_found")
