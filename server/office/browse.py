"""Reading records for the office: filtered, sorted lists paged by key (the page after a
(value, id) pair, so page 500 costs what page 1 does), names for referenced ids, a record
with its related records and its audit trail. Plain SQLAlchemy Core on a connection."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from server.models import SYNC_TABLES, Device, User
from server.office.catalog import EntityView, name_of_table, views

PAGE_SIZE = 50
CHILD_LIMIT = 25


@dataclass(frozen=True)
class Query:
    """What the office asked of a list (every part optional)."""

    search: str = ""
    territory: str = ""
    status: str = ""
    owner: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "name"
    descending: bool = False
    after: str = ""


@dataclass
class Page:
    rows: list[sa.Row]
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    next: str | None = None


def list_page(conn: sa.Connection, view: EntityView, query: Query,
              limit: int = PAGE_SIZE) -> Page:
    """A page of live records of `view` matching `query`, with the cursor of the next page.

    Raises ValueError for a cursor that does not decode.
    """
    name, source = view.name_column()
    sort = name if query.sort == "name" else view.table.c[query.sort]
    stmt = (sa.select(view.table, name.label("_name")).select_from(source)
            .where(view.table.c.deleted_at.is_(None), *_filters(view, name, query)))
    ids = view.table.c.id
    if query.after:
        value, last_id = _decode(query.after, sort)
        key, last = sa.tuple_(sort, ids), sa.tuple_(sa.literal(value, sort.type),
                                                    sa.literal(last_id, ids.type))
        stmt = stmt.where(key < last if query.descending else key > last)
    order = (sort.desc(), ids.desc()) if query.descending else (sort, ids)
    rows = conn.execute(stmt.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode(getattr(rows[-1], _sort_key(query)), rows[-1].id) if more else None
    return Page(rows, names_for(conn, view, rows), cursor)


def names_for(conn: sa.Connection, view: EntityView, rows) -> dict[str, dict[str, str]]:
    """For each reference column, the names of the records the rows refer to, by id."""
    names = {}
    for column, table in view.references().items():
        wanted = {getattr(r, column) for r in rows if getattr(r, column, None)}
        names[column] = lookup_names(conn, table, wanted)
    return names


def lookup_names(conn: sa.Connection, table: sa.Table, ids) -> dict[str, str]:
    if not ids:
        return {}
    label = name_of_table(table)
    found = conn.execute(sa.select(table.c.id, label).where(table.c.id.in_(sorted(ids))))
    return {row[0]: row[1] for row in found}


def get_record(conn: sa.Connection, view: EntityView, record_id: str) -> dict[str, Any] | None:
    """The record's row, wire payload and version, or None when unknown."""
    row = conn.execute(sa.select(view.table).where(view.table.c.id == record_id)).first()
    if row is None:
        return None
    r = SYNC_TABLES.record
    stored = conn.execute(sa.select(r.c.payload, r.c.version).where(
        r.c.entity == view.name, r.c.record_id == record_id)).first()
    payload = json.loads(stored.payload) if stored else {}
    name, source = view.name_column()
    label = conn.execute(sa.select(name).select_from(source).where(
        view.table.c.id == record_id)).scalar()
    return {"row": row, "data": payload, "label": label,
            "version": stored.version if stored else row.version,
            "names": names_for(conn, view, [row])}


def related(conn: sa.Connection, view: EntityView, record_id: str) -> list[dict[str, Any]]:
    """The live records that refer to this one, by entity (at most CHILD_LIMIT each)."""
    found = []
    for other in views().values():
        for column, table in other.references().items():
            if table is not view.table:
                continue
            name, source = other.name_column()
            rows = conn.execute(
                sa.select(other.table.c.id, name.label("_name")).select_from(source)
                .where(other.table.c[column] == record_id, other.table.c.deleted_at.is_(None))
                .order_by(other.table.c.updated_at.desc()).limit(CHILD_LIMIT)).all()
            if rows:
                found.append({"entity": other.name, "via": column, "rows": rows})
    return found


def history(conn: sa.Connection, entity: str, record_id: str, limit: int = 50) -> list[dict]:
    """The record's audit trail, newest first, with the authors' and devices' names."""
    a = SYNC_TABLES.audit
    rows = conn.execute(sa.select(a).where(a.c.entity == entity, a.c.record_id == record_id)
                        .order_by(a.c.version.desc()).limit(limit)).all()
    users = lookup_names(conn, User.__table__, {r.user_id for r in rows if r.user_id})
    devices = lookup_names(conn, Device.__table__, {r.device_id for r in rows if r.device_id})
    return [{"version": r.version, "op": r.op, "source": r.source, "at": r.created_at,
             "user": users.get(r.user_id, r.user_id), "device": devices.get(r.device_id),
             "changes": _changes(r)} for r in rows]


def _changes(row) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of an audit entry; a field empty before and after (a create
    lists every field) says nothing and is left out."""
    before, after = row.before or {}, row.after or {}
    return [(k, before.get(k), after.get(k)) for k in (after or before)
            if before.get(k) is not None or after.get(k) is not None]


def changed_since(conn: sa.Connection, entity: str, record_id: str, version: int) -> set[str]:
    """The fields changed by writes after `version` (from the audit trail)."""
    a = SYNC_TABLES.audit
    rows = conn.execute(sa.select(a.c.after, a.c.before).where(
        a.c.entity == entity, a.c.record_id == record_id, a.c.version > version)).all()
    return {k for r in rows for k in (r.after or r.before or {})}


def _filters(view: EntityView, name, query: Query) -> list[sa.ColumnElement]:
    c, where = view.table.c, []
    if query.search:
        needle = query.search.lower()
        where.append(sa.or_(sa.func.lower(name).contains(needle, autoescape=True),
                            *([sa.func.lower(c.first_name).contains(needle, autoescape=True)]
                              if "first_name" in c else [])))
    if query.territory and (cond := view.territory_filter(query.territory)) is not None:
        where.append(cond)
    if query.status and view.status is not None:
        where.append(view.status == query.status)
    if query.owner and view.owner is not None:
        where.append(view.owner == query.owner)
    if query.date_from:
        where.append(view.date >= datetime.combine(query.date_from, time.min, UTC))
    if query.date_to:
        where.append(view.date < datetime.combine(query.date_to + timedelta(days=1), time.min,
                                                  UTC))
    return where


def _sort_key(query: Query) -> str:
    return "_name" if query.sort == "name" else query.sort


def _encode(value: Any, record_id: str) -> str:
    text = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([text, record_id]).encode()).decode()


def _decode(cursor: str, column: sa.ColumnElement) -> tuple[Any, str]:
    try:
        value, record_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(column.type, sa.DateTime) or "DateTime" in type(column.type).__name__:
            value = datetime.fromisoformat(value)
        return value, str(record_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("this page link is not valid") from exc
