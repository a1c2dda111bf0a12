"""Fresh records for each round of a race, written as the server (like office imports)."""

from __future__ import annotations

import uuid

from server.domain import import_records
from server.extensions import db
from sync.database import write_transaction
from tests.world import World


def uid() -> str:
    return str(uuid.uuid4())


def seed(app, entity: str, **fields) -> str:
    """Create one record as the server and return its id."""
    record_id = uid()
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, entity, [{"id": record_id, **fields}])
    return record_id


def work_order(app, w: World, tech: str) -> tuple[str, str]:
    """A dispatched work order of `tech` at account N1 with one checklist item."""
    wo = seed(app, "work_order", account_id=w.ids["acc_n1"], technician_id=w.users[tech].id,
              title="Leaking group head", status="dispatched")
    item = seed(app, "checklist_item", work_order_id=wo, position=0, label="Seal checked")
    return wo, item


def account(app, w: World, territory: str = "N") -> tuple[str, str]:
    """An account in `territory` with one contact."""
    acc = seed(app, "account", territory_id=w.territories[territory], name=f"Cafe {uid()[:6]}")
    contact = seed(app, "contact", account_id=acc, first_name="Ines", last_name="Roux")
    return acc, contact


def draft_order(app, w: World, acc: str, rep: str = "rep_n") -> str:
    return seed(app, "order", account_id=acc, rep_id=w.users[rep].id,
                price_list_id=w.ids["price_list"])


def visit(app, w: World, acc: str, rep: str = "rep_n") -> str:
    return seed(app, "visit", account_id=acc, rep_id=w.users[rep].id,
                planned_at="2026-12-09T09:00:00Z")


def update(entity: str, record_id: str, version: int, fields: dict, base: dict) -> dict:
    return {"entity": entity, "id": record_id, "op": "update", "base_version": version,
            "fields": fields, "base": base}


def create(entity: str, fields: dict) -> dict:
    return {"entity": entity, "id": uid(), "op": "create", "fields": fields}


def delete(entity: str, record_id: str, version: int) -> dict:
    return {"entity": entity, "id": record_id, "op": "delete", "base_version": version}
