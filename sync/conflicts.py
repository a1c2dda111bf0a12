"""Recorded conflicts and rejections: page through them, and let the back office override
a conflict's outcome.

An override closes a conflict in one of three ways:
- `current`: keep the record as it is now and write nothing. The current state may well be
  a later, correct change, so an override never writes back the value captured when the
  conflict happened.
- `device`: take the device's side (its value of the field; for a record-level conflict its
  update, its deletion, or its child as created).
- `value`: set a value (for a field conflict, the field's value; for a record-level one, an
  object of fields to update the record with, or null to delete it).
A write goes through the engine like any other server-side change, so it reaches every device
in scope through the change log; the conflict's new status reaches its device when the device
asks for it (`list_conflicts` with its device id and mutation ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.entities import Actor
from sync.errors import ConflictNotOpen, InvalidRequest, MutationRejected, RecordNotFound
from sync.paging import newest_first
from sync.protocol import Op
from sync.sqltypes import utcnow
from sync.store import SyncTables

CHOICES = ("current", "device", "value")
# The names of protocol version 1, kept working; "server" now means the current state.
ALIASES = {"server": "current", "client": "device"}
STATUSES = ("open", "resolved", "overridden")
RECORD_KINDS = ("update_deleted", "delete_updated", "parent_deleted", "parent_out_of_scope")
KINDS = ("field", *RECORD_KINDS)


@dataclass(frozen=True)
class ConflictFilter:
    """Which conflicts to list; None matches anything, `mutation_ids` any of them."""

    status: str | None = None
    entity: str | None = None
    record_id: str | None = None
    kind: str | None = None
    device_id: str | None = None
    user_id: str | None = None
    mutation_ids: tuple[int, ...] = ()

    def where(self, c: sa.Table) -> list[sa.ColumnElement]:
        """The filter as conditions on the conflict table."""
        where = [c.c[name] == getattr(self, name)
                 for name in ("status", "entity", "record_id", "kind", "device_id", "user_id")
                 if getattr(self, name) is not None]
        if self.mutation_ids:
            where.append(c.c.mutation_id.in_(self.mutation_ids))
        return where


def list_conflicts(conn: sa.Connection, tables: SyncTables, filters: ConflictFilter, *,
                   after: str | None = None, limit: int) -> tuple[list[dict[str, Any]],
                                                                  str | None]:
    """A page of conflicts, newest first, and the cursor of the next page (None at the end).

    Raises InvalidCursor.
    """
    page = newest_first(conn, tables.conflict, filters.where(tables.conflict), after=after,
                        limit=limit)
    return [_as_dict(row) for row in page.rows], page.next


def list_rejections(conn: sa.Connection, tables: SyncTables, *, after: str | None = None,
                    limit: int, **equals: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A page of rejected mutations, newest first, filtered by column values (None: any).

    Raises InvalidCursor.
    """
    r = tables.rejection
    where = [r.c[name] == value for name, value in equals.items() if value is not None]
    page = newest_first(conn, r, where, after=after, limit=limit)
    return [_as_dict(row) for row in page.rows], page.next


def get_conflict(conn: sa.Connection, tables: SyncTables, conflict_id: str) -> dict[str, Any]:
    """Raises RecordNotFound."""
    row = conn.execute(sa.select(tables.conflict).where(tables.conflict.c.id == conflict_id)
                       ).first()
    if row is None:
        raise RecordNotFound(f"no conflict {conflict_id}")
    return _as_dict(row)


def override(conn: sa.Connection, engine, conflict_id: str, *, choose: str, actor: Actor,
             value: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Close a conflict keeping the current state, taking the device's side, or setting a
    value (see the module docstring); answer the conflict with the record's other open
    conflicts under "other_open_conflicts".

    Raises RecordNotFound, ConflictNotOpen (already overridden), InvalidRequest (a bad
    choice) or MutationRejected (the chosen outcome breaks a rule of the entity, or `value`
    does not fit the conflict).
    """
    choice = ALIASES.get(choose, choose)
    if choice not in CHOICES:
        raise InvalidRequest(f"choose one of {', '.join(CHOICES)}", fields={"choose": ["invalid"]})
    conflict = get_conflict(conn, engine.tables, conflict_id)
    _claim(conn, engine.tables, conflict_id)  # first: a concurrent override waits, then fails
    change = _outcome_change(conflict, choice, value)
    if change is not None:
        engine.write(conn, conflict["entity"], conflict["record_id"], *change, actor=actor,
                     source="override")
    c = engine.tables.conflict
    conn.execute(c.update().where(c.c.id == conflict_id).values(
        result=_outcome(conn, engine.tables, conflict), resolved_at=now or utcnow(),
        resolved_by=actor.user_id))
    answer = get_conflict(conn, engine.tables, conflict_id)
    answer["other_open_conflicts"] = _open_siblings(conn, engine.tables, conflict)
    return answer


def _claim(conn: sa.Connection, tables: SyncTables, conflict_id: str) -> None:
    c = tables.conflict
    claimed = conn.execute(c.update().where(c.c.id == conflict_id, c.c.status != "overridden")
                           .values(status="overridden")).rowcount
    if claimed != 1:
        raise ConflictNotOpen("this conflict was already overridden")


def _outcome_change(conflict: dict, choice: str, value: Any) -> tuple[Op, dict] | None:
    """The write an override makes, or None when it writes nothing."""
    kind = conflict["kind"]
    if choice == "current":
        return None
    if kind == "field":
        chosen = conflict["client_value"] if choice == "device" else value
        return Op.UPDATE, {conflict["field"]: chosen}
    if kind not in RECORD_KINDS:
        raise InvalidRequest(f"conflicts of kind {kind!r} cannot be overridden")
    if choice == "value":
        return _record_value_change(value)
    if kind == "update_deleted":  # the device's side: its update, restoring the record
        return Op.UPDATE, dict(conflict["client_value"] or {})
    if kind == "delete_updated":  # the device's side: its deletion
        return Op.DELETE, {}
    return None  # parent_*: the device's side is its child as created, which is stored


def _record_value_change(value: Any) -> tuple[Op, dict]:
    if value is None:
        return Op.DELETE, {}
    if isinstance(value, dict) and value:
        return Op.UPDATE, dict(value)
    raise MutationRejected("validation_failed", "for this conflict, value is an object of "
                           "fields to update the record with, or null to delete it",
                           fields={"value": ["must be a non-empty object or null"]})


def _outcome(conn: sa.Connection, tables: SyncTables, conflict: dict) -> Any:
    """What the conflict ends with: the field's value now, or whether the record is kept."""
    r = tables.record
    row = conn.execute(sa.select(r.c.deleted, r.c.payload).where(
        r.c.entity == conflict["entity"], r.c.record_id == conflict["record_id"])).first()
    if row is None or row.deleted:
        return "deleted"
    if conflict["kind"] == "field":
        return json.loads(row.payload).get(conflict["field"])
    return "kept"


def _open_siblings(conn: sa.Connection, tables: SyncTables, conflict: dict
                   ) -> list[dict[str, Any]]:
    c = tables.conflict
    rows = conn.execute(sa.select(c).where(
        c.c.entity == conflict["entity"], c.c.record_id == conflict["record_id"],
        c.c.status == "open", c.c.id != conflict["id"]).order_by(c.c.created_at, c.c.id))
    return [_as_dict(row) for row in rows]


def _as_dict(row) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("created_at", "resolved_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat().replace("+00:00", "Z")
    return data
