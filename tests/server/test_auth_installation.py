"""One device per installation: a login names its installation, and two installations never
share a device, so never a receipt stream (docs/protocol.md §3, §9)."""

from __future__ import annotations

import uuid

import pytest

from server.extensions import db
from server.models import Device, Role
from tests.helpers import DEFAULT_PASSWORD, bearer, create_user
from tests.server.test_errors import assert_error

LOGIN = "/api/v1/auth/login"
LAPTOP, TABLET = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def rep(app):
    return create_user(app, role=Role.REP, email="rita@example.test", territory_codes=["NORTH"])


def sign_in(client, user, device: str, installation: str | None, status: int = 200) -> dict:
    body = {"email": user.email, "password": DEFAULT_PASSWORD, "device_name": device}
    if installation is not None:
        body["installation_id"] = installation
    response = client.post(LOGIN, json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def device_row(app, device_id: str) -> Device:
    with app.app_context():
        device = db.session.get(Device, device_id)
        db.session.expunge(device)
        return device


def revoke(app, device_id: str) -> None:
    with app.app_context():
        device = db.session.get(Device, device_id)
        device.revoked_at = device.created_at
        db.session.commit()


def test_two_installations_signing_in_under_one_name_get_two_devices(app, client, rep):
    first = sign_in(client, rep, "Tara's laptop", LAPTOP)["device"]
    second = sign_in(client, rep, "Tara's laptop", TABLET)["device"]

    assert first["id"] != second["id"]
    assert (first["name"], second["name"]) == ("Tara's laptop", "Tara's laptop (2)")
    one, other = device_row(app, first["id"]), device_row(app, second["id"])
    assert (one.installation_id, other.installation_id) == (LAPTOP, TABLET)
    assert one.stream_id != other.stream_id


def test_an_installation_signing_in_again_gets_its_own_device_back_under_any_name(client, rep):
    sign_in(client, rep, "Tara's laptop", LAPTOP)
    tablet = sign_in(client, rep, "Tara's laptop", TABLET)["device"]

    assert sign_in(client, rep, "Tara's laptop", TABLET)["device"] == tablet
    assert sign_in(client, rep, "renamed", TABLET)["device"] == tablet


def test_a_third_installation_under_the_same_name_gets_the_next_number(client, rep):
    names = [sign_in(client, rep, "laptop", str(uuid.uuid4()))["device"]["name"]
             for _ in range(3)]
    assert names == ["laptop", "laptop (2)", "laptop (3)"]


def test_a_numbered_name_fits_the_name_length_limit(client, rep):
    long = "x" * 120
    sign_in(client, rep, long, LAPTOP)
    numbered = sign_in(client, rep, long, TABLET)["device"]["name"]
    assert numbered == "x" * 116 + " (2)"


def test_after_its_device_is_revoked_an_installation_continues_its_receipt_stream(
        app, client, rep):
    old = sign_in(client, rep, "laptop", LAPTOP)["device"]
    revoke(app, old["id"])

    assert_error(client.post(LOGIN, json={"email": rep.email, "password": DEFAULT_PASSWORD,
                                          "device_name": "laptop",
                                          "installation_id": LAPTOP}), 403, "device_name_revoked")
    new = sign_in(client, rep, "laptop again", LAPTOP)["device"]
    other = sign_in(client, rep, "tablet", TABLET)["device"]

    assert new["id"] != old["id"]
    assert device_row(app, new["id"]).stream_id == old["id"] == device_row(app, old["id"]).stream_id
    assert device_row(app, other["id"]).stream_id == other["id"]


def test_the_access_token_carries_the_device_to_its_stream(app, client, rep):
    old = sign_in(client, rep, "laptop", LAPTOP)["device"]
    revoke(app, old["id"])
    session = sign_in(client, rep, "laptop again", LAPTOP)
    me = client.get("/api/v1/auth/me", headers=bearer(session["access_token"])).get_json()
    assert me["device"] == session["device"]


def test_an_installation_id_is_read_in_any_uuid_form_and_kept_canonical(app, client, rep):
    device = sign_in(client, rep, "laptop", LAPTOP.upper())["device"]
    assert device_row(app, device["id"]).installation_id == LAPTOP
    assert sign_in(client, rep, "laptop", LAPTOP)["device"] == device


@pytest.mark.parametrize("bad", ["not-a-uuid", 42, "", "\x00"])
def test_an_installation_id_that_is_not_a_uuid_is_refused(client, rep, bad):
    response = client.post(LOGIN, json={"email": rep.email, "password": DEFAULT_PASSWORD,
                                        "device_name": "laptop", "installation_id": bad})
    assert "installation_id" in assert_error(response, 422, "validation_failed")["fields"]


# -- clients that send no installation id (written before it was asked for) --------------

def test_without_an_installation_id_a_device_name_is_one_device_as_before(client, rep):
    first = sign_in(client, rep, "laptop", None)["device"]
    assert sign_in(client, rep, "laptop", None)["device"] == first


def test_without_an_installation_id_another_installations_device_is_not_shared(client, rep):
    sign_in(client, rep, "laptop", LAPTOP)
    response = client.post(LOGIN, json={"email": rep.email, "password": DEFAULT_PASSWORD,
                                        "device_name": "laptop"})
    assert_error(response, 409, "device_name_taken")


def test_an_upgraded_client_takes_over_the_device_it_used_without_an_id(app, client, rep):
    before = sign_in(client, rep, "laptop", None)["device"]

    after = sign_in(client, rep, "laptop", LAPTOP)["device"]
    other = sign_in(client, rep, "laptop", TABLET)["device"]

    assert after == before
    assert device_row(app, before["id"]).installation_id == LAPTOP
    assert other["name"] == "laptop (2)"


def test_an_installation_with_a_device_does_not_take_over_another_unnamed_one(client, rep):
    sign_in(client, rep, "old phone", None)
    mine = sign_in(client, rep, "laptop", LAPTOP)["device"]
    assert sign_in(client, rep, "old phone", LAPTOP)["device"] == mine


def test_another_user_on_the_same_installation_gets_a_device_and_stream_of_its_own(
        app, client, rep):
    other = create_user(app, role=Role.REP, email="omar@example.test", territory_codes=["NORTH"])
    mine = sign_in(client, rep, "shared tablet", LAPTOP)["device"]
    theirs = sign_in(client, other, "shared tablet", LAPTOP)["device"]

    assert theirs["id"] != mine["id"]
    assert theirs["name"] == "shared tablet"  # names are per user
    assert device_row(app, theirs["id"]).stream_id == theirs["id"]


def test_the_admin_device_list_shows_which_devices_are_one_installation(app, client, rep):
    admin = create_user(app, role=Role.ADMIN, email="ada@example.test")
    token = sign_in(client, admin, "office", None)["access_token"]
    old = sign_in(client, rep, "laptop", LAPTOP)["device"]
    revoke(app, old["id"])
    new = sign_in(client, rep, "laptop again", LAPTOP)["device"]

    listed = client.get("/api/v1/admin/devices", headers=bearer(token)).get_json()["devices"]
    installations = {d["name"]: d["installation_id"] for d in listed}
    assert installations == {"office": None, old["name"]: LAPTOP, new["name"]: LAPTOP}
