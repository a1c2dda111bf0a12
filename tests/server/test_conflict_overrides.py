"""The back office settles conflicts: keep the current state, take the device's side, or set a
value. An override never writes back a stale snapshot, shows the record's other open
conflicts, and works for every kind of conflict (issue 16, finding 10)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from server.api.sync import sync_engine
from server.extensions import db
from server.models import SYNC_TABLES
from sync import conflicts
from sync.database import write_transaction
from sync.entities import ALL, Actor
from tests.databases import backend
from tests.device import Device
from tests.helpers import bearer
from tests.server.test_errors import assert_error
from tests.world import build_world, uid

CONFLICTS = "/api/v1/conflicts"


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def office(client, world):
    return Device(client, world.user("office"))


def change_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SYNC_TABLES.change))


def account(client, world, office) -> dict:
    return client.get(f"/api/v1/records/account/{world.ids['acc_n1']}",
                      headers=bearer(office.token)).get_json()["data"]


def edit_notes(client, world, office, notes: str) -> None:
    response = client.patch(f"/api/v1/records/account/{world.ids['acc_n1']}",
                            json={"notes": notes}, headers=bearer(office.token))
    assert response.status_code == 200, response.get_json()


def conflicting_notes(device: Device, world, notes: str) -> dict:
    """The device edits the account's notes from version 1: a manual conflict, left open."""
    [result] = device.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                            "base_version": 1, "fields": {"notes": notes},
                            "base": {"notes": None}})
    assert result["status"] == "conflict" and result["conflicts"][0]["open"], result
    return result


def open_conflicts(client, office, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in {"status": "open", **filters}.items())
    return client.get(f"{CONFLICTS}?{query}", headers=bearer(office.token)).get_json()["items"]


def override(client, office, conflict_id: str, **body):
    return client.post(f"{CONFLICTS}/{conflict_id}/override", json=body,
                       headers=bearer(office.token))


@pytest.fixture
def notes_conflict(client, world, office) -> dict:
    """An open conflict on the account's notes, and a later, correct edit by the office."""
    rep = Device(client, world.user("rep_n"))
    edit_notes(client, world, office, "office")
    conflicting_notes(rep, world, "rep")
    [conflict] = open_conflicts(client, office)
    edit_notes(client, world, office, "merged by hand")
    return conflict


@pytest.mark.parametrize("choose", ["current", "server"])
def test_keeping_the_current_state_closes_the_conflict_without_writing(
        app, client, world, office, notes_conflict, choose):
    before = change_count(app)
    response = override(client, office, notes_conflict["id"], choose=choose)
    assert response.status_code == 200, response.get_json()
    closed = response.get_json()
    assert (closed["status"], closed["result"]) == ("overridden", "merged by hand")
    assert account(client, world, office)["notes"] == "merged by hand"
    assert change_count(app) == before


def test_taking_the_devices_value_writes_it_through_the_engine(app, client, world, office,
                                                                notes_conflict):
    before = change_count(app)
    response = override(client, office, notes_conflict["id"], choose="device")
    assert response.get_json()["result"] == "rep"
    assert account(client, world, office)["notes"] == "rep"
    assert change_count(app) == before + 1


def test_setting_a_value_writes_that_value(client, world, office, notes_conflict):
    response = override(client, office, notes_conflict["id"], choose="value", value="agreed")
    assert response.get_json()["result"] == "agreed"
    assert account(client, world, office)["notes"] == "agreed"


def test_an_override_shows_the_records_other_open_conflicts(client, world, office):
    edit_notes(client, world, office, "office")
    conflicting_notes(Device(client, world.user("rep_n")), world, "from the laptop")
    conflicting_notes(Device(client, world.user("rep_n"), "phone"), world, "from the phone")
    first, second = open_conflicts(client, office, record_id=world.ids["acc_n1"])
    answer = override(client, office, first["id"], choose="current").get_json()
    assert [c["id"] for c in answer["other_open_conflicts"]] == [second["id"]]
    last = override(client, office, second["id"], choose="current").get_json()
    assert last["other_open_conflicts"] == []


def test_overriding_twice_answers_conflict_not_open(client, office, notes_conflict):
    override(client, office, notes_conflict["id"], choose="current")
    assert_error(override(client, office, notes_conflict["id"], choose="device"), 409,
                 "conflict_not_open")


def test_a_refused_override_leaves_the_conflict_open(client, world, office, notes_conflict):
    response = override(client, office, notes_conflict["id"], choose="value", value=7)
    assert_error(response, 422, "validation_failed")
    assert [c["id"] for c in open_conflicts(client, office)] == [notes_conflict["id"]]


def reassigned_time_entry(client, world, office) -> dict:
    """A technician logs time on a work order the dispatcher gave to someone else meanwhile:
    a parent_out_of_scope conflict."""
    dispatcher = Device(client, world.user("dispatcher"))
    response = client.patch(f"/api/v1/records/work_order/{world.ids['wo_a']}",
                            json={"technician_id": world.user("tech_b").id},
                            headers=bearer(dispatcher.token))
    assert response.status_code == 200, response.get_json()
    entry = uid()
    [result] = Device(client, world.user("tech_a")).push({
        "entity": "time_entry", "id": entry, "op": "create", "fields": {
            "work_order_id": world.ids["wo_a"], "technician_id": world.user("tech_a").id,
            "kind": "labor", "started_at": "2026-03-02T08:00:00Z", "minutes": 30}})
    assert result["status"] == "conflict", result
    [conflict] = open_conflicts(client, office, record_id=entry)
    assert conflict["kind"] == "parent_out_of_scope"
    return conflict


@pytest.mark.parametrize("choose", ["current", "device", "server", "client"])
def test_a_parent_out_of_scope_conflict_is_closed_keeping_the_child(client, world, office,
                                                                     choose):
    conflict = reassigned_time_entry(client, world, office)
    response = override(client, office, conflict["id"], choose=choose)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["status"], response.get_json()["result"]) == (
        "overridden", "kept")


def test_a_parent_out_of_scope_child_is_deleted_by_setting_the_value_null(client, world,
                                                                           office):
    conflict = reassigned_time_entry(client, world, office)
    response = override(client, office, conflict["id"], choose="value", value=None)
    assert response.get_json()["result"] == "deleted"
    record = client.get(f"/api/v1/records/time_entry/{conflict['record_id']}",
                        headers=bearer(office.token)).get_json()
    assert record["deleted"] is True


@pytest.mark.skipif(backend() != "postgresql",
                    reason="SQLite serialises writers; run with FIELDSYNC_TEST_DB=postgresql")
def test_of_two_concurrent_overrides_one_wins_and_the_other_gets_conflict_not_open(
        app, client, world, office, notes_conflict):
    answers = []

    def second_override() -> None:
        answers.append(override(app.test_client(), office, notes_conflict["id"],
                                choose="value", value="second"))

    with app.app_context(), write_transaction(db.engine) as conn:
        actor = Actor(user_id=world.user("office").id, role="back_office",
                      keys=frozenset({ALL}), device_id=None)
        conflicts.override(conn, sync_engine(), notes_conflict["id"], choose="device",
                           actor=actor)
        racing = threading.Thread(target=second_override)
        racing.start()
        racing.join(0.3)  # the second one now waits for this transaction's row lock
    racing.join(30)
    [answer] = answers
    assert_error(answer, 409, "conflict_not_open")
    assert account(client, world, office)["notes"] == "rep"
