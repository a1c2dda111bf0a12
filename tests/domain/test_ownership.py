"""Every update and delete checks the record's current owner, not only the new one
(issue 16, finding 1), and children follow their parent's owner and lock (finding 2)."""

from __future__ import annotations

import pytest

from sync.protocol import Status
from tests.domain.records import line, order, visit
from tests.sync.harness import Harness, create, delete, uid, update


def refused(result, code: str = "forbidden") -> None:
    assert result.status is Status.REJECTED, result
    assert result.error.code == code, result.error


@pytest.mark.parametrize("entity", ["order", "visit"])
def test_a_rep_cannot_take_over_another_reps_record(h: Harness, entity):
    record_id = (order if entity == "order" else visit)(h, "rep_n2")
    other, me = h.w.users["rep_n2"].id, h.w.users["rep_n"].id
    [result] = h.push("rep_n", [update(1, entity, record_id, 1,
                                       {"rep_id": me, "notes": "x"}, base={"rep_id": other})])
    refused(result)
    assert h.record(entity, record_id).data["rep_id"] == other


@pytest.mark.parametrize("entity", ["order", "visit"])
def test_a_rep_cannot_edit_or_delete_another_reps_record(h: Harness, entity):
    record_id = (order if entity == "order" else visit)(h, "rep_n2")
    edit, remove = h.push("rep_n", [update(1, entity, record_id, 1, {"notes": "mine now"}),
                                    delete(2, entity, record_id, 1)])
    refused(edit)
    refused(remove)
    assert not h.record(entity, record_id).deleted


def test_a_rep_cannot_give_her_own_order_away(h: Harness):
    order_id = order(h, "rep_n")
    [result] = h.push("rep_n", [update(1, "order", order_id, 1,
                                       {"rep_id": h.w.users["rep_n2"].id})])
    refused(result)


def test_a_rep_still_edits_her_own_draft(h: Harness):
    order_id = order(h, "rep_n")
    [result] = h.push("rep_n", [update(1, "order", order_id, 1, {"notes": "call first"})])
    assert result.status is Status.APPLIED


def test_a_technician_cannot_take_over_another_technicians_van_stock(h: Harness):
    [result] = h.push("tech_b", [update(1, "van_stock", h.w.ids["van_a"], 1,
                                        {"technician_id": h.w.users["tech_b"].id})])
    assert result.status is Status.REJECTED


# -- order lines follow their order ---------------------------------------------------------


def test_a_rep_cannot_change_a_line_of_another_reps_fulfilled_order(h: Harness):
    order_id = order(h, "rep_n2", "fulfilled")
    line_id = line(h, order_id, 22)
    [result] = h.push("rep_n", [update(1, "order_line", line_id, 1, {"quantity": 122})])
    refused(result)
    assert h.record("order_line", line_id).data["quantity"] == 22


@pytest.mark.parametrize(("owner", "status"), [("rep_n2", "fulfilled"), ("rep_n2", "draft"),
                                               ("rep_n", "fulfilled"), ("rep_n", "approved")])
def test_a_rep_cannot_add_change_or_delete_lines_unless_the_order_is_her_own_draft(
        h: Harness, owner, status):
    order_id = order(h, owner, status)
    line_id = line(h, order_id)
    results = h.push("rep_n", [
        create(1, "order_line", uid(), {"order_id": order_id,
                                        "product_id": h.w.ids["product2"], "quantity": 1}),
        update(2, "order_line", line_id, 1, {"quantity": 5}),
        delete(3, "order_line", line_id, 1),
    ])
    for result in results:
        assert result.status is Status.REJECTED, result
    assert h.record("order_line", line_id).data["quantity"] == 22


def test_a_rep_changes_lines_of_her_own_draft(h: Harness):
    order_id = order(h, "rep_n")
    line_id = line(h, order_id)
    results = h.push("rep_n", [
        create(1, "order_line", uid(), {"order_id": order_id,
                                        "product_id": h.w.ids["product2"], "quantity": 1}),
        update(2, "order_line", line_id, 1, {"quantity": 5}),
    ])
    assert [r.status for r in results] == [Status.APPLIED, Status.APPLIED]


def test_a_rep_cannot_move_her_line_onto_another_reps_order(h: Harness):
    mine, theirs = order(h, "rep_n"), order(h, "rep_n2")
    line_id = line(h, mine)
    [result] = h.push("rep_n", [update(1, "order_line", line_id, 1, {"order_id": theirs})])
    assert result.status is Status.REJECTED


def test_the_office_changes_lines_of_an_approved_order_but_not_of_a_fulfilled_one(h: Harness):
    approved, fulfilled = order(h, "rep_n", "approved"), order(h, "rep_n", "fulfilled")
    line_a, line_f = line(h, approved), line(h, fulfilled)
    results = h.push("office", [update(1, "order_line", line_a, 1, {"quantity": 30}),
                                update(2, "order_line", line_f, 1, {"quantity": 30})])
    assert results[0].status is Status.APPLIED
    refused(results[1], "record_locked")
