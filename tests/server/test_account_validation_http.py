"""Every validation error path of one entity (account), end to end through HTTP.

Each bad request answers 4xx with the one error shape, names the offending fields, and
changes nothing: the same input pushed by a device is rejected with the same fields.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES, Account
from tests.device import Device
from tests.helpers import bearer
from tests.server.test_errors import assert_error
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def office(client, world):
    return Device(client, world.user("office"))


def counts(app):
    with app.app_context():
        accounts = db.session.scalar(sa.select(sa.func.count()).select_from(Account))
        changes = db.session.scalar(sa.select(sa.func.count()).select_from(SYNC_TABLES.change))
        return accounts, changes


def valid_account(world, **overrides):
    return {"territory_id": world.territories["N"], "name": "Rösterei Neu", **overrides}


BAD_FIELDS = [
    ("missing required name", {"name": None}, "name"),
    ("name of the wrong type", {"name": 123}, "name"),
    ("empty name", {"name": ""}, "name"),
    ("name too long", {"name": "x" * 201}, "name"),
    ("unknown status", {"status": "bankrupt"}, "status"),
    ("malformed email", {"email": "not-an-email"}, "email"),
    ("lowercase country code", {"country": "de"}, "country"),
    ("latitude out of range", {"latitude": "91.0"}, "latitude"),
    ("latitude not a number", {"latitude": "north"}, "latitude"),
    ("territory id not a uuid", {"territory_id": "north"}, "territory_id"),
    ("unknown field", {"revenue": 10}, "revenue"),
]


@pytest.mark.parametrize(("case", "overrides", "field"), BAD_FIELDS,
                         ids=[c[0] for c in BAD_FIELDS])
def test_a_bad_account_field_is_refused_with_422_naming_the_field(
        app, client, world, office, case, overrides, field):
    body = valid_account(world, **overrides)
    if overrides.get("name", "") is None:
        body.pop("name")
    before = counts(app)
    response = client.post("/api/v1/records/account", json=body, headers=bearer(office.token))
    error = assert_error(response, 422, "validation_failed")
    assert field in error["fields"], error
    assert counts(app) == before


@pytest.mark.parametrize(("case", "overrides", "field"), BAD_FIELDS,
                         ids=[c[0] for c in BAD_FIELDS])
def test_the_same_bad_account_pushed_by_a_device_is_rejected_with_the_same_field(
        app, client, world, case, overrides, field):
    rep = Device(client, world.user("rep_n"))
    fields = valid_account(world, **overrides)
    if overrides.get("name", "") is None:
        fields.pop("name")
    before = counts(app)
    [result] = rep.push({"entity": "account", "id": uid(), "op": "create", "fields": fields})
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "validation_failed"
    assert field in result["error"]["fields"]
    assert counts(app) == before


def test_an_account_in_an_unknown_territory_is_refused_as_a_missing_reference(
        app, client, world, office):
    before = counts(app)
    response = client.post("/api/v1/records/account",
                           json=valid_account(world, territory_id=uid()),
                           headers=bearer(office.token))
    error = assert_error(response, 422, "missing_reference")
    assert "territory_id" in error["fields"]
    assert counts(app) == before


def test_an_update_with_a_bad_field_changes_nothing(app, client, world, office):
    before = counts(app)
    response = client.patch(f"/api/v1/records/account/{world.ids['acc_n1']}",
                            json={"name": "", "city": "Kiel"}, headers=bearer(office.token))
    assert "name" in assert_error(response, 422, "validation_failed")["fields"]
    assert counts(app) == before
    record = client.get(f"/api/v1/records/account/{world.ids['acc_n1']}",
                        headers=bearer(office.token)).get_json()
    assert record["data"]["city"] is None and record["version"] == 1


def test_an_unknown_account_id_answers_404(client, world, office):
    response = client.patch(f"/api/v1/records/account/{uid()}", json={"name": "x"},
                            headers=bearer(office.token))
    assert_error(response, 404, "not_found")


def test_an_account_id_taken_already_answers_409(client, world, office):
    response = client.post("/api/v1/records/account",
                           json={**valid_account(world), "id": world.ids["acc_n1"]},
                           headers=bearer(office.token))
    assert_error(response, 409, "already_exists")


def test_an_account_body_that_is_not_json_answers_415(app, client, world, office):
    before = counts(app)
    response = client.post("/api/v1/records/account", data="name=x",
                           headers={**bearer(office.token),
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415, "unsupported_media_type")
    assert counts(app) == before


def test_an_account_body_with_malformed_json_answers_400(client, world, office):
    response = client.post("/api/v1/records/account", data='{"name": ',
                           headers={**bearer(office.token), "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")


def test_an_account_body_that_is_a_list_answers_422(client, world, office):
    response = client.post("/api/v1/records/account", json=[1, 2],
                           headers=bearer(office.token))
    assert_error(response, 422, "validation_failed")


def test_an_oversized_account_body_answers_413(app, client, world, office):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/api/v1/records/account",
                           json=valid_account(world, notes="x" * 4096),
                           headers=bearer(office.token))
    assert_error(response, 413, "payload_too_large")


def test_a_rep_may_not_use_the_back_office_records_api(client, world):
    rep = Device(client, world.user("rep_n"))
    response = client.post("/api/v1/records/account", json=valid_account(world),
                           headers=bearer(rep.token))
    assert_error(response, 403, "forbidden")


def test_an_unknown_entity_answers_404(client, world, office):
    response = client.post("/api/v1/records/spaceship", json={"name": "x"},
                           headers=bearer(office.token))
    assert_error(response, 404, "not_found")


def test_a_valid_account_is_created_and_reaches_the_territory_rep(app, client, world, office):
    response = client.post("/api/v1/records/account", json=valid_account(world, country="DE",
                                                                          latitude="54.3"),
                           headers=bearer(office.token))
    assert response.status_code == 201
    created = response.get_json()
    assert created["version"] == 1
    assert created["data"]["latitude"] == "54.300000"
    rep = Device(client, world.user("rep_n"))
    rep.sync()
    assert rep.data("account", created["id"])["name"] == "Rösterei Neu"


def test_a_record_created_in_the_back_office_without_an_id_gets_a_time_ordered_one(
        client, world, office):
    response = client.post("/api/v1/records/account", json=valid_account(world),
                           headers=bearer(office.token))
    assert response.status_code == 201, response.get_json()
    assert uuid.UUID(response.get_json()["id"]).version == 7
