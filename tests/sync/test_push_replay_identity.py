"""A replay is answered from a receipt only when it is the mutation handled under its id; a
receipt stream shared by the devices of one installation de-duplicates across them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.domain import actor_for
from sync.protocol import Status
from sync.push import fingerprint
from sync.retention import purge_receipts
from sync.sqltypes import utcnow
from tests.sync.harness import Harness, T, create, delete, uid, update
from tests.sync.tech_work import count, labor, tech_batch


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def visit(h: Harness, mutation_id: int, notes: str = "planned"):
    return create(mutation_id, "visit", uid(), {
        "account_id": h.w.ids["acc_n1"], "rep_id": h.w.users["rep_n"].id,
        "planned_at": "2026-03-02T09:00:00Z", "notes": notes})


def test_an_id_handled_for_another_change_is_refused_not_answered_with_its_receipt(h):
    [first] = h.push("rep_n", [visit(h, 1)])
    logged = h.change_count()

    other = visit(h, 1, notes="another installation's visit")
    [answer] = h.push("rep_n", [other])

    assert first.status is Status.APPLIED
    assert answer.status is Status.REJECTED
    assert answer.error.code == "mutation_id_reused"
    assert (answer.mutation_id, answer.record_id, answer.record) == (1, other.record_id, None)
    assert "mutation_id" in answer.error.fields
    assert h.change_count() == logged  # nothing applied
    assert h.rows(h.sync.registry["visit"].table,
                  h.sync.registry["visit"].table.c.id == other.record_id) == []


def test_the_same_change_sent_again_is_still_answered_from_its_receipt(h):
    batch = tech_batch(h)
    first = h.push("tech_a", batch)
    # The same change, its fields in another key order and its HLC set, is a replay.
    again = [dataclasses.replace(m, fields=dict(reversed(list(m.fields.items()))),
                                 hlc="1795431418507-0000-somewhere") for m in batch]
    assert h.push("tech_a", again) == first


def test_the_same_record_changed_otherwise_under_a_handled_id_is_refused(h):
    van = h.w.ids["van_a"]
    h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 8}, base={"quantity": 10})])

    [answer] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 5},
                                        base={"quantity": 10})])

    assert answer.error.code == "mutation_id_reused"
    assert h.record("van_stock", van).data["quantity"] == 8


def test_an_id_below_the_last_handled_that_was_never_handled_is_refused(h):
    h.push("tech_a", [labor(h, 1, uid()), labor(h, 5, uid())])
    h.push("tech_a", [labor(h, 9, uid())])
    logged = h.change_count()

    # 3: a gap inside a push's ids; 7: between two pushes
    answers = h.push("tech_a", [labor(h, 3, uid()), labor(h, 7, uid())])

    assert [(a.status, a.error.code) for a in answers] == \
        [(Status.REJECTED, "mutation_id_out_of_order")] * 2
    assert h.change_count() == logged


def test_a_refused_replay_does_not_stop_the_new_mutations_after_it(h):
    h.push("tech_a", [labor(h, 1, uid())])

    reused, fresh = h.push("tech_a", [labor(h, 1, uid(), minutes=90), labor(h, 2, uid())])

    assert reused.error.code == "mutation_id_reused"
    assert (fresh.status, fresh.error) == (Status.APPLIED, None)


def test_an_id_whose_receipt_has_expired_is_still_answered_receipt_expired(h):
    h.push("tech_a", [labor(h, 1, uid())])
    with h.tx() as conn:
        purge_receipts(conn, T, before=utcnow() + timedelta(seconds=1))
    h.push("tech_a", [labor(h, 2, uid())])

    [answer] = h.push("tech_a", [labor(h, 1, uid())])

    assert (answer.status, answer.error.code) == (Status.APPLIED, "receipt_expired")


def test_a_receipt_written_before_fingerprints_were_kept_is_compared_by_record(h):
    batch = tech_batch(h)
    first = h.push("tech_a", batch)
    with h.tx() as conn:
        conn.execute(T.receipt.update().values(fingerprints=None))

    assert h.push("tech_a", batch) == first
    [moved] = h.push("tech_a", [labor(h, 1, uid())])
    assert moved.error.code == "mutation_id_reused"


def test_receipts_keep_each_handled_mutations_fingerprint_in_order(h):
    batch = tech_batch(h)
    h.push("tech_a", batch)
    [row] = h.rows(T.receipt)
    assert row["fingerprints"].split() == [fingerprint(m) for m in batch]


def test_two_devices_of_one_receipt_stream_apply_a_mutation_once(h):
    batch = tech_batch(h)
    old, new = uid(), uid()
    user = h.w.users["tech_a"]

    def push_as(device_id: str):
        with h.tx() as conn:
            actor = actor_for(conn, user.id, user.role, device_id)
            return h.sync.push(conn, dataclasses.replace(actor, stream_id=old), batch)

    first = push_as(old)
    again = push_as(new)

    assert again == first
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 8  # not 6
    assert count(h, T.receipt) == 1
    assert [r["device_id"] for r in h.rows(T.device)] == [old]
    assert {r["device_id"] for r in h.rows(T.change, T.change.c.device_id.is_not(None))} \
        == {old}  # the log names the stream whose push made the change
    assert h.rows(T.receipt, sa.true())[0]["device_id"] == old


def test_an_edit_in_doubt_then_a_delete_from_the_installations_next_device_deletes(h):
    # The edit went out from the revoked device, its answer lost; the delete, made on top
    # of it offline, goes out from the device signed in after: it is the same installation's
    # own edit, not a concurrent update the delete must lose to.
    contact, user = h.w.ids["contact_n1"], h.w.users["rep_n"]
    old, new = uid(), uid()
    edit = update(1, "contact", contact, 1, {"phone": "+33 6 00"}, base={"phone": None})

    def push_as(device_id: str, mutations):
        with h.tx() as conn:
            actor = actor_for(conn, user.id, user.role, device_id)
            return h.sync.push(conn, dataclasses.replace(actor, stream_id=old), mutations)

    push_as(old, [edit])
    replayed, deleted = push_as(new, [edit, delete(2, "contact", contact, 1)])

    assert (replayed.status, deleted.status) == (Status.APPLIED, Status.APPLIED)
    assert h.record("contact", contact).deleted
    assert h.conflicts("contact", contact) == []
