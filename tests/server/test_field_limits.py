"""Every text field has a published limit, and a value over it is rejected per mutation.

Finding 16.5: notes and descriptions took about 9 MiB each, so that a handful of records
made a pull page of a hundred megabytes. Finding 16.8: such a change was refused with the
whole push, without a word about which one.
"""

from __future__ import annotations

import msgspec
import pytest
from marshmallow import fields as mf

from server.domain import schemas
from server.domain.entities import SPECS
from server.domain.wire_fields import UUIDString
from tests.device import Device
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


def _string_fields():
    for spec in SPECS:
        for name, field in spec.codec.schema.fields.items():
            # a uuid is bounded by its format: it is a type of its own on the wire
            if isinstance(field, mf.String) and not isinstance(field, UUIDString) \
                    and not field.dump_only:
                yield spec.name, name, field


@pytest.mark.parametrize(("entity", "name", "field"), list(_string_fields()),
                         ids=[f"{e}.{n}" for e, n, _ in _string_fields()])
def test_every_string_field_of_every_entity_refuses_text_over_its_limit(entity, name, field):
    limit = _published(entity, name)["max_length"]
    assert limit is not None and limit <= schemas.LONG_TEXT
    too_long = "A" * (limit + 1)
    assert any(_refuses(v, too_long) for v in field.validators), (
        f"{entity}.{name} takes {limit + 1} characters")


def _refuses(validator, value) -> bool:
    try:
        validator(value)
    except Exception:
        return True
    return False


def _published(entity: str, name: str) -> dict:
    from server.domain.describe import describe_entities

    [described] = [e for e in describe_entities() if e["entity"] == entity]
    return next(f for f in described["fields"] if f["name"] == name)


def test_the_entities_endpoint_publishes_each_fields_limits_and_format(client, world):
    rep = Device(client, world.user("rep_n"))
    response = client.get("/api/v1/sync/entities",
                          headers={"Authorization": f"Bearer {rep.token}"})
    entities = {e["entity"]: {f["name"]: f for f in e["fields"]}
                for e in response.get_json()["entities"]}
    account = entities["account"]
    assert account["notes"]["max_length"] == schemas.LONG_TEXT
    assert account["name"]["max_length"] == schemas.NAME
    assert account["name"]["min_length"] == 1
    assert account["country"]["pattern"] == "^[A-Z]{2}$"
    assert "two uppercase letters" in account["country"]["format"]
    assert account["latitude"]["minimum"] == -90 and account["latitude"]["maximum"] == 90
    assert entities["order_line"]["quantity"]["minimum"] == 1
    assert entities["account"]["status"]["max_length"] is None


def _visit(world, notes: str) -> dict:
    return {"entity": "visit", "id": uid(), "op": "create",
            "fields": {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id,
                       "notes": notes}}


@pytest.mark.parametrize("size", [schemas.LONG_TEXT + 1, 9 * 2**20])
def test_a_note_over_its_limit_is_rejected_alone_with_its_mutation_id(client, world, size):
    rep = Device(client, world.user("rep_n"))
    before, huge, after = _visit(world, "ok"), _visit(world, "x" * size), _visit(world, "ok")
    results = rep.push(before, huge, after)
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["mutation_id"] == 2
    assert results[1]["error"]["code"] == "validation_failed"
    assert list(results[1]["error"]["fields"]) == ["notes"]


def test_a_note_at_its_limit_is_applied(client, world):
    rep = Device(client, world.user("rep_n"))
    [result] = rep.push(_visit(world, "é" * schemas.LONG_TEXT))
    assert result["status"] == "applied"
    assert len(result["record"]["data"]["notes"]) == schemas.LONG_TEXT


class Undecodable:
    """Stands in for FAST_PUSH: every body goes the marshmallow way."""

    def decode(self, body):
        raise msgspec.ValidationError("not taken here")


def test_a_long_note_is_rejected_per_mutation_on_the_marshmallow_path_too(client, world,
                                                                           monkeypatch):
    monkeypatch.setattr("server.api.sync.FAST_PUSH", Undecodable())
    rep = Device(client, world.user("rep_n"))
    results = rep.push(_visit(world, "x" * (schemas.LONG_TEXT + 1)), _visit(world, "ok"))
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert list(results[0]["error"]["fields"]) == ["notes"]


def test_the_records_api_refuses_a_long_note_naming_the_field(client, world):
    office = Device(client, world.user("office"))
    response = office.post("/api/v1/records/account", {
        "territory_id": world.territories["N"], "name": "Long", "notes": "x" * 10_001})
    assert response.status_code == 422
    assert "notes" in response.get_json()["error"]["fields"]


def test_a_country_must_be_two_uppercase_letters_and_nothing_after(client, world):
    rep = Device(client, world.user("rep_n"))
    results = rep.push(*[{"entity": "account", "id": uid(), "op": "create",
                          "fields": {"territory_id": world.territories["N"], "name": "A",
                                     "country": country}}
                         for country in ["DE", "de", "DE\n", "DEU"]])
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected"]
    assert all(list(r["error"]["fields"]) == ["country"] for r in results[1:])
