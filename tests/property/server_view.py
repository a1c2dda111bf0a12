"""Read-only looks at the server's tables, for the checks: records, scopes, log, receipts.

Scope is read the way the brief states it: the records of `sync_record` whose scope keys meet
the user's keys from `server.domain.user_keys`. `expected_scope_keys` recomputes every
record's keys from the records' own references, independently of the engine, so a scope
that went stale (a child not re-keyed when its parent moved) is caught too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.domain import user_keys
from server.extensions import db
from server.models import SYNC_TABLES as T
from sync.entities import ALL
from sync.push import stored_results
from tests.helpers import CreatedUser

Key = tuple[str, str]  # (entity, record id)

# entity -> (reference field, parent entity, key prefix kept from the parent)
INHERITED = {
    "contact": ("account_id", "account", "territory:"),
    "visit": ("account_id", "account", "territory:"),
    "order": ("account_id", "account", "territory:"),
    "order_line": ("order_id", "order", "territory:"),
    "asset": ("account_id", "account", "site:"),
    "part_used": ("work_order_id", "work_order", "tech:"),
    "time_entry": ("work_order_id", "work_order", "tech:"),
    "checklist_item": ("work_order_id", "work_order", "tech:"),
    "attachment": ("work_order_id", "work_order", "tech:"),
}
CATALOG = {"product", "price_list", "price", "part"}


@dataclass(frozen=True)
class LogEntry:
    seq: int
    key: Key
    version: int
    device_id: str | None  # the writing device, None for the server


@dataclass(frozen=True)
class ServerRecord:
    version: int
    deleted: bool
    keys: frozenset[str]
    data: dict[str, Any]


def visible(user_keys_: frozenset[str], record_keys: frozenset[str]) -> bool:
    return ALL in user_keys_ or not user_keys_.isdisjoint(record_keys)


class ServerView:
    def __init__(self, app):
        self.app = app

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self.app.app_context(), db.engine.connect() as conn:
            yield conn

    def records(self, only: set[Key] | None = None) -> dict[Key, ServerRecord]:
        """Every record the server holds (or those in `only`), tombstones included."""
        r = T.record
        query = sa.select(r.c.entity, r.c.record_id, r.c.version, r.c.deleted, r.c.scope,
                          r.c.payload)
        if only is not None:
            if not only:
                return {}
            query = query.where(sa.tuple_(r.c.entity, r.c.record_id).in_(sorted(only)))
        with self.connect() as conn:
            rows = conn.execute(query).all()
        return {(row.entity, row.record_id): ServerRecord(
            row.version, row.deleted, frozenset(row.scope.split()), json.loads(row.payload))
            for row in rows}

    def keys_of(self, user: CreatedUser) -> frozenset[str]:
        with self.connect() as conn:
            return user_keys(conn, user.id, str(user.role))

    def in_scope(self, user: CreatedUser, records: Mapping[Key, ServerRecord] | None = None,
                 keys: frozenset[str] | None = None) -> dict[Key, tuple[int, dict[str, Any]]]:
        """The live records `user` may see now: what a caught-up device must hold."""
        keys = self.keys_of(user) if keys is None else keys
        records = self.records() if records is None else records
        return {key: (rec.version, rec.data) for key, rec in records.items()
                if not rec.deleted and visible(keys, rec.keys)}

    def log(self) -> list[LogEntry]:
        """The change log as it stands (retention may have dropped older entries)."""
        c = T.change
        with self.connect() as conn:
            rows = conn.execute(sa.select(c.c.seq, c.c.entity, c.c.record_id, c.c.version,
                                          c.c.device_id).order_by(c.c.seq))
            return [LogEntry(row.seq, (row.entity, row.record_id), row.version, row.device_id)
                    for row in rows]

    def receipts(self, device_id: str) -> dict[int, dict[str, Any]]:
        with self.connect() as conn:
            return stored_results(conn, T, device_id)

    def rejections(self, device_id: str) -> dict[int, list[dict[str, Any]]]:
        return self._by_mutation(T.rejection, device_id)

    def conflicts(self, device_id: str) -> dict[int, list[dict[str, Any]]]:
        return self._by_mutation(T.conflict, device_id)

    def _by_mutation(self, table: sa.Table, device_id: str) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        with self.connect() as conn:
            for row in conn.execute(sa.select(table).where(table.c.device_id == device_id)):
                found.setdefault(row.mutation_id, []).append(dict(row._mapping))
        return found


def expected_scope_keys(records: Mapping[Key, ServerRecord]) -> dict[Key, frozenset[str]]:
    """Each record's scope keys as the field domain defines them, from the references.

    Records below a parent the server no longer holds (a tombstone purged by retention)
    are left out: nothing can tell their keys any more.
    """
    expected: dict[Key, frozenset[str] | None] = {}

    def keys_of(entity: str, record_id: str) -> frozenset[str] | None:
        if (entity, record_id) not in expected:
            expected[(entity, record_id)] = _own_keys(entity, record_id, records, keys_of)
        return expected[(entity, record_id)]

    for entity, record_id in records:
        keys_of(entity, record_id)
    return {key: keys for key, keys in expected.items() if keys is not None}


def _own_keys(entity: str, record_id: str, records, keys_of) -> frozenset[str] | None:
    if (entity, record_id) not in records:
        return None
    data = records[(entity, record_id)].data
    if entity in INHERITED:
        field, parent, prefix = INHERITED[entity]
        keys = keys_of(parent, data[field])
        return None if keys is None else frozenset(k for k in keys if k.startswith(prefix))
    if entity in CATALOG:
        return frozenset({"catalog"})
    if entity == "territory":
        return frozenset({f"territory:{record_id}"})
    if entity == "account":
        return frozenset({f"territory:{data['territory_id']}", f"site:{record_id}"})
    technician = data.get("technician_id")  # work orders and van stock
    return frozenset({f"tech:{technician}"} if technician else ())
