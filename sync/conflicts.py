"""Recorded conflicts: query them, and let the back office override an outcome.

An override is an ordinary server-side write, so the chosen value reaches every device in
scope through the change log like any other change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.entities import Actor
from sync.errors import ConflictNotOpen, InvalidRequest, RecordNotFound
from sync.protocol import Op
from sync.sqltypes import utcnow
from sync.store import SyncTables

CHOICES = ("server", "client", "value")


def list_conflicts(conn: sa.Connection, tables: SyncTables, *, status: str | None = None,
                   entity: str | None = None, record_id: str | None = None,
                   user_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, filtered by whichever arguments are given."""
    c = tables.conflict
    query = sa.select(c).order_by(c.c.created_at.desc(), c.c.id).limit(limit)
    for column, value in (("status", status), ("entity", entity), ("record_id", record_id),
                          ("user_id", user_id)):
        if value is not None:
            query = query.where(c.c[column] == value)
    return [_as_dict(row) for row in conn.execute(query)]


def get_conflict(conn: sa.Connection, tables: SyncTables, conflict_id: str) -> dict[str, Any]:
    """Raises RecordNotFound."""
    row = conn.execute(sa.select(tables.conflict).where(tables.conflict.c.id == conflict_id)
                       ).first()
    if row is None:
        raise RecordNotFound(f"no conflict {conflict_id}")
    return _as_dict(row)


def override(conn: sa.Connection, engine, conflict_id: str, *, choose: str, actor: Actor,
             value: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Replace a conflict's outcome with the server's side, the client's, or a given value.

    Raises RecordNotFound, ConflictNotOpen (already overridden), InvalidRequest (a bad
    choice) or MutationRejected (the chosen outcome breaks a rule of the entity).
    """
    if choose not in CHOICES:
        raise InvalidRequest(f"choose one of {', '.join(CHOICES)}", fields={"choose": ["invalid"]})
    conflict = get_conflict(conn, engine.tables, conflict_id)
    if conflict["status"] == "overridden":
        raise ConflictNotOpen("this conflict was already overridden")
    chosen = {"server": conflict["server_value"], "client": conflict["client_value"],
              "value": value}[choose]
    change = _outcome_change(conflict, choose, chosen)
    if change is not None:
        engine.write(conn, conflict["entity"], conflict["record_id"], *change, actor=actor,
                     source="override")
    c = engine.tables.conflict
    conn.execute(c.update().where(c.c.id == conflict_id).values(
        status="overridden", result=chosen, resolved_at=now or utcnow(),
        resolved_by=actor.user_id))
    return get_conflict(conn, engine.tables, conflict_id)


def _outcome_change(conflict: dict, choose: str, chosen: Any) -> tuple[Op, dict] | None:
    kind = conflict["kind"]
    if kind == "field":
        return Op.UPDATE, {conflict["field"]: chosen}
    client_wins = choose != "server"
    if kind == "update_deleted":  # client side: the update; server side: the deletion
        return (Op.UPDATE, dict(chosen or {})) if client_wins else (Op.DELETE, {})
    if kind == "delete_updated":  # client side: the deletion; server side: the update
        return (Op.DELETE, {}) if client_wins else None
    if kind == "parent_deleted":  # client side: keep the child; server side: drop it too
        return None if client_wins else (Op.DELETE, {})
    raise InvalidRequest(f"conflicts of kind {kind!r} cannot be overridden")


def _as_dict(row) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("created_at", "resolved_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat().replace("+00:00", "Z")
    return data
