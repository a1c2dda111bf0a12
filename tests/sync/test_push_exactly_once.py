"""Push, exactly once: a replayed, overlapping or racing delivery applies nothing twice and
is answered from the receipts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from sync.protocol import Op, Status
from sync.retention import purge_receipts
from sync.sqltypes import utcnow
from tests.sync.harness import Harness, T, uid, update
from tests.sync.tech_work import count, device_row, labor, results_stored, tech_batch


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def test_a_batch_pushed_twice_answers_the_same_and_applies_nothing_twice(h):
    batch = tech_batch(h)
    first = h.push("tech_a", batch)
    state = {e: h.record(e, i) for e, i in (("van_stock", h.w.ids["van_a"]),
                                            ("work_order", h.w.ids["wo_a"]))}
    logged, receipts = h.change_count(), results_stored(h)

    again = h.push("tech_a", batch)

    assert [r.status for r in first] == [Status.APPLIED] * 3
    assert again == first
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 8  # not 6
    for entity, before in state.items():
        assert h.record(entity, before.record_id).version == before.version
    assert h.change_count() == logged
    assert results_stored(h) == receipts == 3
    assert count(h, T.receipt) == 1  # one receipt row for the push
    assert len(h.rows(h.sync.registry["time_entry"].table)) == 1
    assert device_row(h, "tech_a")["last_mutation_id"] == 3


def test_a_replay_answers_what_was_answered_then_even_after_the_record_moved_on(h):
    [first] = h.push("tech_a", [update(1, "van_stock", h.w.ids["van_a"], 1, {"quantity": 9},
                                       base={"quantity": 10})])
    h.write("van_stock", h.w.ids["van_a"], Op.UPDATE, {"quantity": 20})

    [again] = h.push("tech_a", [update(1, "van_stock", h.w.ids["van_a"], 1, {"quantity": 9},
                                       base={"quantity": 10})])

    assert again == first
    assert again.record.data["quantity"] == 9
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 20


def test_a_batch_overlapping_an_applied_one_applies_only_the_new_mutations(h):
    batch = tech_batch(h)
    first = h.push("tech_a", batch[:2])
    logged = h.change_count()
    van_version = h.record("van_stock", h.w.ids["van_a"]).version

    second = h.push("tech_a", batch[1:])

    assert second[0] == first[1]
    assert second[1].status is Status.APPLIED
    assert h.record("van_stock", h.w.ids["van_a"]).version == van_version
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 8
    assert h.change_count() == logged + 1  # only the time entry
    assert device_row(h, "tech_a")["last_mutation_id"] == 3


def test_rejected_mutations_are_answered_the_same_on_replay_and_recorded_once(h):
    batch = [update(1, "account", h.w.ids["acc_s1"], 1, {"name": "Not mine"})]
    first = h.push("rep_n", batch)
    again = h.push("rep_n", batch)
    assert first == again
    assert first[0].status is Status.REJECTED
    assert len(h.rejections("rep_n")) == 1


def test_each_device_has_its_own_mutation_ids(h):
    van = h.w.ids["van_a"]
    h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 9}, base={"quantity": 10})],
           device="tablet")
    [result] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 7},
                                        base={"quantity": 10})], device="phone")
    assert result.status is Status.MERGED
    assert h.record("van_stock", van).data["quantity"] == 6


def test_a_retry_racing_the_original_delivery_applies_the_batch_once(h):
    batch = tech_batch(h)
    h.device("tech_a")
    start = threading.Barrier(2)
    answers: dict[int, object] = {}

    def deliver(attempt: int) -> None:
        start.wait()
        try:
            answers[attempt] = h.push("tech_a", batch)
        except Exception as exc:  # surfaced by the assertion below
            answers[attempt] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers[0] == answers[1], answers
    assert [r.status for r in answers[0]] == [Status.APPLIED] * 3
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 8
    assert len(h.rows(h.sync.registry["time_entry"].table)) == 1
    assert results_stored(h) == 3 and count(h, T.receipt) == 1


def test_a_resent_superset_spanning_several_pushes_is_answered_from_each_ones_receipt(h):
    batch, later = tech_batch(h), [labor(h, 4, uid()), labor(h, 5, uid())]
    first, second = h.push("tech_a", batch), h.push("tech_a", later)
    logged = h.change_count()

    again = h.push("tech_a", [*batch[1:], *later, labor(h, 6, uid())])

    assert again[:4] == [*first[1:], *second]
    assert again[4].status is Status.APPLIED and again[4].error is None
    assert h.change_count() == logged + 1
    assert len(h.rows(h.sync.registry["time_entry"].table)) == 4
    assert results_stored(h) == 6 and count(h, T.receipt) == 3


def test_a_replay_after_its_receipts_expired_still_applies_nothing(h):
    batch = tech_batch(h)
    h.push("tech_a", batch)
    with h.tx() as conn:
        assert purge_receipts(conn, T, before=utcnow() + timedelta(seconds=1)) == 1  # a push
    logged = h.change_count()

    again = h.push("tech_a", batch)

    assert [r.status for r in again] == [Status.APPLIED] * 3
    assert {r.error.code for r in again} == {"receipt_expired"}
    assert [r.mutation_id for r in again] == [1, 2, 3]
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 8
    assert h.change_count() == logged
