"""Status moves follow each entity's workflow, and the domain's bounds hold (issue 16,
finding 3): every move below was applied on a3291ee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.protocol import Op, Status
from tests.device import Device
from tests.domain.records import line, order, visit
from tests.helpers import bearer
from tests.sync.harness import Harness, create, uid, update


def refused(result, code: str) -> None:
    assert result.status is Status.REJECTED, result
    assert result.error.code == code, result.error


def new_order(h: Harness, status: str) -> dict:
    return {"account_id": h.w.ids["acc_n1"], "rep_id": h.w.users["rep_n"].id,
            "price_list_id": h.w.ids["price_list"], "status": status}


@pytest.mark.parametrize("status", ["submitted", "approved", "fulfilled", "cancelled"])
def test_a_rep_creates_orders_only_as_drafts(h: Harness, status):
    [result] = h.push("rep_n", [create(1, "order", uid(), new_order(h, status))])
    refused(result, "transition_not_allowed")
    assert result.error.fields == {"status": [f"a rep may not create a record as {status}"]}


def test_a_rep_cannot_walk_her_order_draft_approved_draft_fulfilled(h: Harness):
    order_id = order(h, "rep_n")
    results = h.push("rep_n", [update(1, "order", order_id, 1, {"status": "approved"}),
                               update(2, "order", order_id, 1, {"status": "fulfilled"})])
    for result in results:
        refused(result, "transition_not_allowed")
    approved = order(h, "rep_n", "approved")
    [back] = h.push("rep_n", [update(3, "order", approved, 1, {"status": "draft"})])
    refused(back, "transition_not_allowed")
    assert h.record("order", approved).data["status"] == "approved"


def test_a_rep_submits_and_the_back_office_approves_and_fulfils(h: Harness):
    order_id = order(h, "rep_n")
    [submitted] = h.push("rep_n", [update(1, "order", order_id, 1, {"status": "submitted"})])
    approved, fulfilled = h.push("office", [
        update(1, "order", order_id, 2, {"status": "approved"}),
        update(2, "order", order_id, 3, {"status": "fulfilled"})])
    assert [r.status for r in (submitted, approved, fulfilled)] == [Status.APPLIED] * 3


def test_a_dispatcher_cannot_approve_an_order(h: Harness):
    order_id = order(h, "rep_n", "submitted")
    [result] = h.push("dispatcher", [update(1, "order", order_id, 1, {"status": "approved"})])
    refused(result, "transition_not_allowed")


def test_a_rep_cancels_her_draft_but_not_a_submitted_order(h: Harness):
    draft, submitted = order(h, "rep_n"), order(h, "rep_n", "submitted")
    ok, late = h.push("rep_n", [update(1, "order", draft, 1, {"status": "cancelled"}),
                                update(2, "order", submitted, 1, {"status": "cancelled"})])
    assert ok.status is Status.APPLIED
    refused(late, "transition_not_allowed")


def test_a_cancellation_made_offline_is_refused_once_the_office_approved_the_order(h: Harness):
    order_id = order(h, "rep_n", "submitted")
    h.write("order", order_id, Op.UPDATE, {"status": "approved"})
    [result] = h.push("rep_n", [update(1, "order", order_id, 1, {"status": "cancelled"},
                                       base={"status": "submitted"})])
    refused(result, "transition_not_allowed")
    assert "from approved to cancelled" in result.error.message
    assert h.record("order", order_id).data["status"] == "approved"


@pytest.mark.parametrize(("start", "target"), [
    ("dispatched", "closed"), ("dispatched", "new"), ("dispatched", "completed"),
    ("dispatched", "cancelled")])
def test_a_technician_cannot_skip_or_undo_work_order_states(h: Harness, start, target):
    [result] = h.push("tech_a", [update(1, "work_order", h.w.ids["wo_a"], 1,
                                        {"status": target})])
    refused(result, "transition_not_allowed")


def test_a_technician_cannot_close_his_own_completed_work_order(h: Harness):
    wo = h.w.ids["wo_a"]
    results = h.push("tech_a", [update(1, "work_order", wo, 1, {"status": "in_progress"}),
                                update(2, "work_order", wo, 2, {"status": "completed"}),
                                update(3, "work_order", wo, 3, {"status": "closed"})])
    assert [r.status for r in results[:2]] == [Status.APPLIED, Status.APPLIED]
    refused(results[2], "transition_not_allowed")
    [closed] = h.push("dispatcher", [update(1, "work_order", wo, 3, {"status": "closed"})])
    assert closed.status is Status.APPLIED


def test_a_technician_cannot_relabel_add_or_remove_checklist_items(h: Harness):
    item = h.w.ids["check_a"]
    results = h.push("tech_a", [
        update(1, "checklist_item", item, 1, {"label": "Skip this"}),
        create(2, "checklist_item", uid(), {"work_order_id": h.w.ids["wo_a"], "position": 1,
                                            "label": "Mine"}),
        update(3, "checklist_item", item, 1, {"checked": True, "answer": "180 ppm"}),
    ])
    refused(results[0], "forbidden")
    refused(results[1], "forbidden")
    assert results[2].status is Status.APPLIED
    assert h.record("checklist_item", item).data["label"] == "Water hardness measured"


def test_a_closed_work_orders_records_are_locked(h: Harness):
    wo = h.w.ids["wo_a"]
    for status in ("in_progress", "completed", "closed"):
        h.write("work_order", wo, Op.UPDATE, {"status": status})
    results = h.push("tech_a", [
        update(1, "checklist_item", h.w.ids["check_a"], 1, {"checked": True}),
        create(2, "part_used", uid(), {"work_order_id": wo, "part_id": h.w.ids["part1"],
                                       "quantity": 1}),
    ])
    for result in results:
        refused(result, "record_locked")
    [office] = h.push("office", [update(1, "checklist_item", h.w.ids["check_a"], 1,
                                        {"answer": "late"})])
    refused(office, "record_locked")


# -- bounds ------------------------------------------------------------------------------


def test_a_rep_may_give_at_most_twenty_percent_and_the_office_more(h: Harness):
    order_id = order(h, "rep_n")
    too_much, capped = h.push("rep_n", [
        create(1, "order_line", uid(), {"order_id": order_id, "product_id": h.w.ids["product1"],
                                        "quantity": 1, "discount_pct": "100"}),
        create(2, "order_line", uid(), {"order_id": order_id, "product_id": h.w.ids["product2"],
                                        "quantity": 1, "discount_pct": "20"})])
    refused(too_much, "validation_failed")
    assert too_much.error.fields == {"discount_pct": ["a rep may give at most 20%"]}
    assert capped.status is Status.APPLIED
    line_id = line(h, order_id)
    [office] = h.push("office", [update(1, "order_line", line_id, 1, {"discount_pct": "100"})])
    assert office.status is Status.APPLIED


@pytest.mark.parametrize("planned_at", ["1999-06-01T09:00:00Z", "2199-06-01T09:00:00Z"])
def test_a_visit_is_planned_between_2000_and_two_years_ahead(h: Harness, planned_at):
    [result] = h.push("rep_n", [create(1, "visit", uid(), {
        "account_id": h.w.ids["acc_n1"], "rep_id": h.w.users["rep_n"].id,
        "planned_at": planned_at})])
    refused(result, "validation_failed")
    assert "planned_at" in result.error.fields


def test_an_old_visit_can_still_be_edited(h: Harness):
    visit_id = visit(h, "rep_n", planned_at="2001-01-01T09:00:00Z")
    [result] = h.push("rep_n", [update(1, "visit", visit_id, 1, {"notes": "history"})])
    assert result.status is Status.APPLIED


def test_time_is_not_logged_in_the_future(h: Harness):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    now = datetime.now(UTC).isoformat()
    future, present = h.push("tech_a", [
        create(1, "time_entry", uid(), {"work_order_id": h.w.ids["wo_a"],
                                        "technician_id": h.w.users["tech_a"].id,
                                        "kind": "labor", "started_at": later, "minutes": 1}),
        create(2, "time_entry", uid(), {"work_order_id": h.w.ids["wo_a"],
                                        "technician_id": h.w.users["tech_a"].id,
                                        "kind": "labor", "started_at": now, "minutes": 1})])
    refused(future, "validation_failed")
    assert future.error.fields == {"started_at": ["must not be in the future"]}
    assert present.status is Status.APPLIED


def test_van_stock_is_never_clamped_at_zero(h: Harness):
    van = h.w.ids["van_a"]  # holds 10
    [result] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": -40},
                                        base={"quantity": 10})])
    refused(result, "validation_failed")
    assert h.record("van_stock", van).data["quantity"] == 10


def test_devices_can_read_every_workflow_from_the_entity_description(app, client, h: Harness):
    rep = Device(client, h.w.user("rep_n"))
    entities = client.get("/api/v1/sync/entities", headers=bearer(rep.token)).get_json()
    flows = {e["entity"]: e["workflow"] for e in entities["entities"] if e["workflow"]}
    assert set(flows) == {"visit", "order", "work_order"}
    assert flows["order"]["initial"]["rep"] == ["draft"]
    assert {"from": "submitted", "to": "approved", "roles": ["back_office", "admin"]} in \
        flows["order"]["moves"]
    assert flows["order"]["deletable"]["rep"] == ["draft"]
