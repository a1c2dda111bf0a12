"""A technician's offline work for push tests, and what the server kept of it."""

from __future__ import annotations

import sqlalchemy as sa

from sync.push import stored_results
from tests.sync.harness import Harness, T, create, uid, update


def tech_batch(h: Harness, first_id: int = 1):
    """A technician's offline work: take two gaskets from the van, start the job, log time."""
    ids = h.w.ids
    return [
        update(first_id, "van_stock", ids["van_a"], 1, {"quantity": 8}, base={"quantity": 10}),
        update(first_id + 1, "work_order", ids["wo_a"], 1, {"status": "in_progress"},
               base={"status": "dispatched"}),
        labor(h, first_id + 2, uid(), minutes=45),
    ]


def labor(h: Harness, mutation_id: int, record_id: str, minutes: int = 30):
    """tech_a logs labour on work order A."""
    return create(mutation_id, "time_entry", record_id, {
        "work_order_id": h.w.ids["wo_a"], "technician_id": h.w.users["tech_a"].id,
        "kind": "labor", "started_at": "2026-03-02T08:00:00Z", "minutes": minutes})


def device_row(h: Harness, device: str):
    d = T.device
    rows = h.rows(d, d.c.device_id == h.device(device))
    return rows[0] if rows else None


def count(h: Harness, table: sa.Table) -> int:
    with h.tx() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def results_stored(h: Harness, device: str = "tech_a") -> int:
    """How many mutations of the device have a stored result (a receipt)."""
    with h.tx() as conn:
        return len(stored_results(conn, T, h.device(device)))
