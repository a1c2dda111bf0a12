"""Two writers changing the same record at once on PostgreSQL: the second waits for the first
and merges on top of its committed version, so neither change is lost.

Found by the end-to-end tests (tests/e2e): a technician and a dispatcher syncing at the same
moment lost van stock movements and work order edits, because each push read the record
before the other committed and then wrote its stale copy back over it. SQLite serialises
writers, so this can only happen on PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest

from server.domain import actor_for
from server.extensions import db
from sync.database import write_transaction
from sync.protocol import Op
from tests.databases import backend
from tests.sync.harness import Harness, update

pytestmark = pytest.mark.skipif(
    backend() != "postgresql",
    reason="SQLite serialises writers; run with FIELDSYNC_TEST_DB=postgresql",
)


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def push_in_a_thread(h: Harness, user: str, mutations) -> threading.Thread:
    def run() -> None:
        h.push(user, mutations)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_push_waits_for_a_concurrent_push_to_the_same_records_and_merges_on_top(h):
    ids, tech = h.w.ids, h.w.users["tech_a"]
    van, wo = ids["van_a"], ids["wo_a"]
    with h.app.app_context(), write_transaction(db.engine) as conn:
        actor = actor_for(conn, tech.id, tech.role, h.device("tech_a"))
        h.sync.push(conn, actor, [
            update(1, "van_stock", van, 1, {"quantity": 8}, base={"quantity": 10}),
            update(2, "work_order", wo, 1, {"status": "in_progress"},
                   base={"status": "dispatched"}),
        ])
        # Not committed yet: the dispatcher's push of the same records must wait for it.
        dispatcher = push_in_a_thread(h, "dispatcher", [
            update(1, "van_stock", van, 1, {"quantity": 15}, base={"quantity": 10}),
            update(2, "work_order", wo, 1, {"priority": "high"}, base={"priority": "normal"}),
        ])
        time.sleep(0.3)
        assert dispatcher.is_alive()
    dispatcher.join(timeout=30)
    assert not dispatcher.is_alive()

    stock = h.record("van_stock", van)
    assert (stock.version, stock.data["quantity"]) == (3, 13)  # 10 - 2 + 5
    order = h.record("work_order", wo)
    assert (order.version, order.data["status"], order.data["priority"]) == (
        3, "in_progress", "high")
    assert h.change_count("van_stock", van) == 3


def test_a_back_office_write_waits_for_a_concurrent_push_to_the_same_record(h):
    ids, tech = h.w.ids, h.w.users["tech_a"]
    van = ids["van_a"]
    with h.app.app_context(), write_transaction(db.engine) as conn:
        actor = actor_for(conn, tech.id, tech.role, h.device("tech_a"))
        h.sync.push(conn, actor, [
            update(1, "van_stock", van, 1, {"quantity": 8}, base={"quantity": 10})])
        office = threading.Thread(
            target=lambda: h.write("van_stock", van, Op.UPDATE, {"part_id": ids["part2"]}))
        office.start()
        time.sleep(0.3)
        assert office.is_alive()
    office.join(timeout=30)

    stock = h.record("van_stock", van)
    assert (stock.version, stock.data["quantity"], stock.data["part_id"]) == (
        3, 8, ids["part2"])
