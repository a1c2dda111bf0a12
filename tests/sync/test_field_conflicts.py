"""Field conflicts through push: each policy decides, and the conflict is stored in full.

The engine here has a clock of its own, so timestamps these tests push never move the
process-wide server clock other tests rely on.
"""

from __future__ import annotations

import time

import pytest

from sync.apply import MAX_DRIFT_MS
from sync.engine import SyncEngine
from sync.hlc import Clock, Timestamp
from sync.protocol import Op, Status
from tests.sync.harness import Harness, uid, update


@pytest.fixture
def h(app) -> Harness:
    shared = app.extensions["fieldsync.sync"]
    own = SyncEngine(shared.tables, shared.registry, secret=shared.secret, clock=Clock("server"))
    return Harness(app, engine=own)


def shifted(hlc: str, ms: int, node: str = "device") -> str:
    """A device timestamp `ms` after (or before) `hlc`."""
    return str(Timestamp(Timestamp.parse(hlc).wall_ms + ms, 0, node))


def field_conflict(h: Harness, entity: str, record_id: str) -> dict:
    [conflict] = h.conflicts(entity, record_id)
    assert conflict["kind"] == "field"
    return conflict


def test_edits_to_different_fields_merge_without_a_conflict(h):
    account = h.w.ids["acc_n1"]
    h.write("account", account, Op.UPDATE, {"name": "Café Nord (new owner)"})

    [result] = h.push("rep_n", [update(1, "account", account, 1, {"phone": "+33 1 00"},
                                       base={"phone": None})])

    assert (result.status, result.conflicts) == (Status.MERGED, ())
    data = h.record("account", account).data
    assert (data["name"], data["phone"]) == ("Café Nord (new owner)", "+33 1 00")
    assert h.conflicts("account", account) == []


@pytest.mark.parametrize(("offset_ms", "winner"), [(-60_000, "server"), (60_000, "device")])
def test_last_writer_wins_by_hybrid_logical_clock(h, offset_ms, winner):
    account = h.w.ids["acc_n1"]
    written = h.write("account", account, Op.UPDATE, {"name": "Server name"}).record
    mutation = update(1, "account", account, 1, {"name": "Device name"},
                      base={"name": "Café Nord"}, hlc=shifted(written.hlc, offset_ms))

    [result] = h.push("rep_n", [mutation])

    expected = {"server": "Server name", "device": "Device name"}[winner]
    assert result.status is Status.CONFLICT
    assert h.record("account", account).data["name"] == expected
    conflict = field_conflict(h, "account", account)
    assert {k: conflict[k] for k in ("field", "policy", "base", "server_value",
                                     "client_value", "result", "status")} == {
        "field": "name", "policy": "lww", "base": "Café Nord", "server_value": "Server name",
        "client_value": "Device name", "result": expected, "status": "resolved"}
    assert conflict["mutation"] == mutation.to_wire()


def test_a_device_clock_days_ahead_is_capped_and_does_not_win_forever(app):
    shared = app.extensions["fieldsync.sync"]
    wall = {"ms": time.time_ns() // 1_000_000}
    clock = Clock("server", now_ms=lambda: wall["ms"])
    h = Harness(app, engine=SyncEngine(shared.tables, shared.registry, secret=shared.secret,
                                       clock=clock))
    account, start = h.w.ids["acc_n1"], wall["ms"]
    days_ahead = str(Timestamp(start + 3 * 24 * 3600 * 1000, 0, "fast-laptop"))
    h.push("rep_n", [update(1, "account", account, 1, {"name": "From the future"},
                            base={"name": "Café Nord"}, hlc=days_ahead)])
    assert Timestamp.parse(h.record("account", account).hlc).wall_ms == start + MAX_DRIFT_MS

    # Once real time passes the cap, an edit made on time by another device wins again.
    wall["ms"] = start + MAX_DRIFT_MS + 1_000
    on_time = str(Timestamp(wall["ms"], 0, "office-pc"))
    [result] = h.push("office", [update(1, "account", account, 1, {"name": "On time"},
                                        base={"name": "Café Nord"}, hlc=on_time)])
    assert result.status is Status.CONFLICT
    assert h.record("account", account).data["name"] == "On time"


def walk(h: Harness, work_order: str, *states: str) -> None:
    """Move a work order through `states` as the server, one allowed move at a time."""
    for status in states:
        h.write("work_order", work_order, Op.UPDATE, {"status": status})


def test_a_technicians_completed_survives_a_later_dispatcher_hold(h):
    work_order = h.w.ids["wo_a"]
    h.push("tech_a", [update(1, "work_order", work_order, 1, {"status": "in_progress"})])
    written = h.write("work_order", work_order, Op.UPDATE, {"status": "on_hold"}).record

    [result] = h.push("tech_a", [update(2, "work_order", work_order, 2,
                                        {"status": "completed"}, base={"status": "in_progress"},
                                        hlc=shifted(written.hlc, -60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).data["status"] == "completed"
    conflict = field_conflict(h, "work_order", work_order)
    assert (conflict["policy"], conflict["server_value"], conflict["client_value"],
            conflict["result"]) == ("state", "on_hold", "completed", "completed")


def test_a_dispatchers_scheduled_does_not_undo_a_technicians_completed(h):
    work_order = h.w.ids["wo_a"]
    h.push("tech_a", [update(1, "work_order", work_order, 1, {"status": "in_progress"}),
                      update(2, "work_order", work_order, 2, {"status": "completed"})])
    completed = h.record("work_order", work_order)

    [result] = h.push("dispatcher", [update(1, "work_order", work_order, 1,
                                            {"status": "scheduled"},
                                            base={"status": "dispatched"},
                                            hlc=shifted(completed.hlc, 60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).data["status"] == "completed"
    assert h.record("work_order", work_order).version == completed.version
    assert field_conflict(h, "work_order", work_order)["result"] == "completed"


def test_a_cancelled_work_order_stays_cancelled(h):
    work_order = h.w.ids["wo_a"]
    written = h.write("work_order", work_order, Op.UPDATE, {"status": "cancelled"}).record

    [result] = h.push("tech_a", [update(1, "work_order", work_order, 1,
                                        {"status": "in_progress"}, base={"status": "dispatched"},
                                        hlc=shifted(written.hlc, 60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).data["status"] == "cancelled"


def test_the_dispatchers_priority_wins_over_a_later_device_edit(h):
    work_order = h.w.ids["wo_a"]
    written = h.write("work_order", work_order, Op.UPDATE, {"priority": "urgent"}).record

    [result] = h.push("dispatcher", [update(1, "work_order", work_order, 1,
                                            {"priority": "low"}, base={"priority": "normal"},
                                            hlc=shifted(written.hlc, 60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).data["priority"] == "urgent"
    assert field_conflict(h, "work_order", work_order)["policy"] == "server_wins"


def test_the_technicians_resolution_wins_over_a_later_office_edit(h):
    work_order = h.w.ids["wo_a"]
    written = h.write("work_order", work_order, Op.UPDATE, {"resolution": "Office guess"}).record

    [result] = h.push("tech_a", [update(1, "work_order", work_order, 1,
                                        {"resolution": "Replaced the gasket"},
                                        base={"resolution": None},
                                        hlc=shifted(written.hlc, -60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).data["resolution"] == "Replaced the gasket"
    assert field_conflict(h, "work_order", work_order)["policy"] == "client_wins"


def test_account_notes_edited_on_both_sides_wait_for_the_back_office(h):
    account = h.w.ids["acc_n1"]
    written = h.write("account", account, Op.UPDATE, {"notes": "Office: pays late"}).record

    [result] = h.push("rep_n", [update(1, "account", account, 1, {"notes": "Rep: new owner"},
                                       base={"notes": None}, hlc=shifted(written.hlc, 60_000))])

    assert result.status is Status.CONFLICT
    assert [c.open for c in result.conflicts] == [True]
    assert h.record("account", account).data["notes"] == "Office: pays late"
    conflict = field_conflict(h, "account", account)
    assert (conflict["policy"], conflict["status"], conflict["client_value"]) == (
        "manual", "open", "Rep: new owner")


def test_a_field_sent_without_its_base_is_decided_by_its_policy(h):
    account = h.w.ids["acc_n1"]
    written = h.write("account", account, Op.UPDATE, {"name": "Server name"}).record

    [result] = h.push("rep_n", [update(1, "account", account, 1, {"name": "Device name"},
                                       hlc=shifted(written.hlc, -60_000))])

    assert result.status is Status.CONFLICT
    assert h.record("account", account).data["name"] == "Server name"
    assert field_conflict(h, "account", account)["base"] is None


def test_cancelling_an_order_fulfilled_meanwhile_keeps_the_reps_other_edits(h):
    order = uid()
    h.write("order", order, Op.CREATE, {"account_id": h.w.ids["acc_n1"],
                                        "rep_id": h.w.users["rep_n"].id,
                                        "price_list_id": h.w.ids["price_list"],
                                        "status": "submitted"})
    h.write("order", order, Op.UPDATE, {"status": "approved"})
    h.write("order", order, Op.UPDATE, {"status": "fulfilled"})

    [result] = h.push("rep_n", [update(1, "order", order, 1,
                                       {"status": "cancelled", "notes": "Customer called"},
                                       base={"status": "submitted", "notes": None})])

    assert result.status is not Status.REJECTED, result.error
    assert h.record("order", order).data["notes"] == "Customer called"
    assert h.record("order", order).data["status"] == "fulfilled"


def test_a_technician_who_saw_a_closed_work_order_cannot_reopen_it(h):
    walk(h, h.w.ids["wo_a"], "in_progress", "completed", "closed")
    [result] = h.push("tech_a", [update(1, "work_order", h.w.ids["wo_a"], 4,
                                        {"status": "in_progress"}, base={"status": "closed"})])
    assert result.status is Status.REJECTED
    assert result.error.code == "transition_not_allowed" and "status" in result.error.fields


def test_a_cancellation_made_offline_does_not_undo_a_concurrent_close(h):
    # Cancelled outranks closed, but nobody may cancel a closed work order: the close stays.
    walk(h, h.w.ids["wo_a"], "in_progress", "completed", "closed")
    [result] = h.push("dispatcher", [update(1, "work_order", h.w.ids["wo_a"], 1,
                                            {"status": "cancelled"},
                                            base={"status": "dispatched"})])
    assert result.status is Status.CONFLICT
    assert h.record("work_order", h.w.ids["wo_a"]).data["status"] == "closed"
    assert field_conflict(h, "work_order", h.w.ids["wo_a"])["result"] == "closed"
