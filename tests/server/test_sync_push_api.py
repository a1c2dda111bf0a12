"""The push and pull endpoints: envelope errors, conflicts surfaced and settled, resets."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES
from sync import changelog
from sync.database import write_transaction
from sync.protocol import PROTOCOL_VERSION
from sync.sqltypes import utcnow
from tests.device import Device
from tests.helpers import bearer
from tests.server.test_errors import assert_error
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


def change_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SYNC_TABLES.change))


def rename(world, mutation_id=None, **extra):
    m = {"entity": "account", "id": world.ids["acc_n1"], "op": "update", "base_version": 1,
         "fields": {"name": "Café Nord"}, "base": {"name": "Café Nord"}}
    m["fields"] = {"name": "Renamed"}
    if mutation_id is not None:
        m["mutation_id"] = mutation_id
    return {**m, **extra}


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"mutations": []}, 422, "validation_failed", "protocol"),
    ({"protocol": PROTOCOL_VERSION + 1, "mutations": []}, 400, "protocol_mismatch", "protocol"),
    ({"protocol": PROTOCOL_VERSION}, 422, "validation_failed", "mutations"),
    ({"protocol": PROTOCOL_VERSION, "mutations": [{"mutation_id": 1}]}, 422,
     "validation_failed", "mutations"),
    ({"protocol": PROTOCOL_VERSION, "mutations": "all"}, 422, "validation_failed", "mutations"),
])
def test_a_malformed_push_envelope_is_refused_whole(app, client, world, body, status, code,
                                                     field):
    rep = Device(client, world.user("rep_n"))
    before = change_count(app)
    response = rep.post("/api/v1/sync/push", body)
    error = assert_error(response, status, code)
    assert field in error["fields"]
    assert change_count(app) == before


def test_a_push_with_an_unknown_op_is_refused_whole(app, client, world):
    rep = Device(client, world.user("rep_n"))
    before = change_count(app)
    good, bad = rename(world, 1), {**rename(world, 2), "op": "upsert"}
    response = rep.post("/api/v1/sync/push", {"protocol": PROTOCOL_VERSION,
                                              "mutations": [good, bad]})
    assert_error(response, 422, "validation_failed")
    assert change_count(app) == before


class Refusing:
    """Stands in for PUSH_SCHEMA: a body that reaches it fails the test."""

    def load(self, data):
        raise AssertionError("a valid push body went through marshmallow")


def test_a_valid_push_body_is_read_without_marshmallow(app, client, world, monkeypatch):
    monkeypatch.setattr("server.api.sync.PUSH_SCHEMA", Refusing())
    rep = Device(client, world.user("rep_n"))
    [result] = rep.push(rename(world))
    assert result["status"] == "applied"


def test_a_push_body_msgspec_refuses_gets_marshmallows_error(app, client, world):
    rep = Device(client, world.user("rep_n"))
    before = change_count(app)
    response = rep.post("/api/v1/sync/push", {"protocol": PROTOCOL_VERSION, "mutations": [
        {**rename(world, 1), "entity": "e" * 41, "extra": True}]})
    error = assert_error(response, 422, "validation_failed")
    assert error["fields"] == {"mutations": {"0": {"entity": ["Length must be between 1 and 40."],
                                                   "extra": ["Unknown field."]}}}
    assert change_count(app) == before


def test_non_increasing_mutation_ids_are_refused_whole(app, client, world):
    rep = Device(client, world.user("rep_n"))
    before = change_count(app)
    response = rep.post("/api/v1/sync/push", {"protocol": PROTOCOL_VERSION,
                                              "mutations": [rename(world, 2), rename(world, 2)]})
    assert_error(response, 400, "invalid_request")
    assert change_count(app) == before


def test_a_push_without_a_token_answers_401(client):
    response = client.post("/api/v1/sync/push", json={"protocol": 1, "mutations": []})
    assert_error(response, 401, "unauthorized")


def test_a_replayed_push_answers_the_same_and_applies_nothing_twice(app, client, world):
    rep = Device(client, world.user("rep_n"))
    batch = [rename(world, 1),
             {"mutation_id": 2, "entity": "visit", "id": uid(), "op": "create",
              "fields": {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id}}]
    first = rep.push(*batch)
    changes = change_count(app)
    again = rep.push(*batch)
    assert again == first
    assert change_count(app) == changes
    assert [r["status"] for r in first] == ["applied", "applied"]


def test_the_dispatcher_cannot_undo_a_technicians_completion(app, client, world):
    tech = Device(client, world.user("tech_a"))
    dispatcher = Device(client, world.user("dispatcher"))
    tech.sync()
    [started] = tech.push({"entity": "work_order", "id": world.ids["wo_a"], "op": "update",
                           "base_version": 1, "fields": {"status": "in_progress"}})
    assert started["status"] == "applied"
    response = client.patch(f"/api/v1/records/work_order/{world.ids['wo_a']}",
                            json={"status": "on_hold"}, headers=bearer(dispatcher.token))
    assert response.status_code == 200
    [result] = tech.push({"entity": "work_order", "id": world.ids["wo_a"], "op": "update",
                          "base_version": 2, "fields": {"status": "completed"},
                          "base": {"status": "in_progress"}})
    assert result["status"] == "conflict"
    assert result["record"]["data"]["status"] == "completed"
    [conflict] = result["conflicts"]
    assert conflict == {"field": "status", "kind": "field", "policy": "state",
                        "base": "in_progress", "server": "on_hold", "client": "completed",
                        "result": "completed", "open": False}
    listed = client.get("/api/v1/conflicts?entity=work_order",
                        headers=bearer(dispatcher.token)).get_json()["items"]
    assert [(c["field"], c["server_value"], c["client_value"]) for c in listed] == [
        ("status", "on_hold", "completed")]
    assert listed[0]["mutation"]["fields"] == {"status": "completed"}


def test_the_back_office_overrides_a_conflict_and_the_outcome_syncs_to_devices(
        app, client, world):
    rep = Device(client, world.user("rep_n"))
    office = Device(client, world.user("office"))
    rep.sync()
    client.patch(f"/api/v1/records/account/{world.ids['acc_n1']}", json={"notes": "office"},
                 headers=bearer(office.token))
    [result] = rep.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                         "base_version": 1, "fields": {"notes": "rep"}, "base": {"notes": None}})
    assert result["status"] == "conflict" and result["conflicts"][0]["open"] is True
    assert result["record"]["data"]["notes"] == "office"  # manual: server value kept
    [open_conflict] = client.get("/api/v1/conflicts?status=open",
                                 headers=bearer(office.token)).get_json()["items"]
    response = client.post(f"/api/v1/conflicts/{open_conflict['id']}/override",
                           json={"choose": "client"}, headers=bearer(office.token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "overridden"
    rep.sync()
    assert rep.data("account", world.ids["acc_n1"])["notes"] == "rep"
    again = client.post(f"/api/v1/conflicts/{open_conflict['id']}/override",
                        json={"choose": "server"}, headers=bearer(office.token))
    assert_error(again, 409, "conflict_not_open")


def test_a_rep_sees_only_their_own_rejections_and_office_sees_all(app, client, world):
    north, south = Device(client, world.user("rep_n")), Device(client, world.user("rep_s"))
    office = Device(client, world.user("office"))
    [rejected] = north.push({"entity": "account", "id": world.ids["acc_s1"], "op": "update",
                             "base_version": 1, "fields": {"name": "Mine"}})
    assert rejected["error"]["code"] == "out_of_scope"
    own = client.get("/api/v1/rejections", headers=bearer(north.token)).get_json()["items"]
    assert [(r["code"], r["mutation"]["fields"]) for r in own] == [("out_of_scope",
                                                                   {"name": "Mine"})]
    assert client.get("/api/v1/rejections", headers=bearer(south.token)).get_json()["items"] == []
    assert len(client.get("/api/v1/rejections",
                          headers=bearer(office.token)).get_json()["items"]) == 1


def test_a_cursor_older_than_the_retained_history_must_reset(app, client, world):
    rep = Device(client, world.user("rep_n"))
    office = Device(client, world.user("office"))
    rep.sync()
    client.patch(f"/api/v1/records/account/{world.ids['acc_n1']}", json={"city": "Kiel"},
                 headers=bearer(office.token))
    with app.app_context(), write_transaction(db.engine) as conn:
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() + timedelta(seconds=1))
    response = rep.post("/api/v1/sync/pull", {"protocol": PROTOCOL_VERSION,
                                              "cursor": rep.cursor})
    assert_error(response, 410, "reset_required")
    rep.cursor = None
    rep.sync()
    assert rep.data("account", world.ids["acc_n1"])["city"] == "Kiel"


def test_a_forged_cursor_is_refused(client, world):
    rep = Device(client, world.user("rep_n"))
    response = rep.post("/api/v1/sync/pull", {"protocol": PROTOCOL_VERSION, "cursor": "abc.def"})
    assert_error(response, 400, "invalid_cursor")


def test_order_lines_round_half_up_like_an_invoice(app, client, world):
    rep = Device(client, world.user("rep_n"))
    order, line = uid(), uid()
    results = rep.push(
        {"entity": "order", "id": order, "op": "create",
         "fields": {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id,
                    "price_list_id": world.ids["price_list"]}},
        # 24.90 x 1 x 0.95 = 23.655: half a cent rounds up
        {"entity": "order_line", "id": line, "op": "create",
         "fields": {"order_id": order, "product_id": world.ids["product1"], "quantity": 1,
                    "discount_pct": "5"}})
    assert results[1]["record"]["data"]["line_total"] == "23.66"
