"""Current state of replicated records: the domain row, its sync view and its scope keys.

Every write to a replicated record goes through `RecordStore`, which keeps the domain table,
`sync_record` (the ready-to-send JSON and scope of each record) and `sync_record_key` in step
and returns the change-log entries the write produces, including scope cascades to children.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.entities import EntitySpec, Inherit, Registry
from sync.store import SyncTables


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Current:
    entity: str
    record_id: str
    version: int
    hlc: str
    keys: frozenset[str]
    data: dict[str, Any]
    deleted: bool


@dataclass(frozen=True)
class ChangeEntry:
    """A change-log row to append: the record's version and the keys before and after."""

    entity: str
    record_id: str
    version: int
    deleted: bool
    keys: frozenset[str]
    device_id: str | None
    created_at: datetime


class RecordStore:
    """Reads and writes records within one transaction, with a per-transaction cache."""

    def __init__(self, conn: sa.Connection, tables: SyncTables, registry: Registry):
        self.conn, self.t, self.registry = conn, tables, registry
        self._cache: dict[tuple[str, str], Current | None] = {}

    def forget(self) -> None:
        """Drop the cache (after a savepoint rolled back)."""
        self._cache.clear()

    def get(self, entity: str, record_id: str) -> Current | None:
        key = (entity, record_id)
        if key not in self._cache:
            self._cache[key] = self._load(entity, record_id)
        return self._cache[key]

    def _load(self, entity: str, record_id: str) -> Current | None:
        r = self.t.record
        row = self.conn.execute(
            sa.select(r.c.version, r.c.hlc, r.c.scope, r.c.payload, r.c.deleted).where(
                r.c.entity == entity, r.c.record_id == record_id
            )
        ).first()
        if row is None:
            return None
        keys = frozenset(row.scope.split()) if row.scope else frozenset()
        return Current(entity, record_id, row.version, row.hlc, keys, json.loads(row.payload),
                       row.deleted)

    def find_id(self, entity: str, **equals: Any) -> str | None:
        """The id of a live record of `entity` whose columns equal `equals`."""
        table = self.registry[entity].table
        clauses = [table.c[name] == value for name, value in equals.items()]
        return self.conn.execute(
            sa.select(table.c.id).where(*clauses, table.c.deleted_at.is_(None)).limit(1)
        ).scalar()

    def scope_of(self, spec: EntitySpec, record_id: str, data: Mapping[str, Any]) -> frozenset:
        rule = spec.scope
        if isinstance(rule, Inherit):
            parent_id = data.get(rule.field)
            parent = self.get(rule.entity, parent_id) if parent_id else None
            if parent is None:
                return frozenset()
            return frozenset(k for k in parent.keys if k.startswith(rule.prefixes))
        return frozenset(rule.compute({**data, "id": record_id}))

    def insert(self, spec: EntitySpec, record_id: str, data: dict[str, Any], *, hlc: str,
               keys: frozenset[str], now: datetime, device_id: str | None) -> Current:
        self.conn.execute(spec.table.insert().values(
            id=record_id, version=1, created_at=now, updated_at=now, **spec.codec.to_row(data)
        ))
        self.conn.execute(self.t.record.insert().values(
            entity=spec.name, record_id=record_id, version=1, hlc=hlc,
            scope=" ".join(sorted(keys)), payload=dumps(data), deleted=False, updated_at=now,
        ))
        self._add_keys(spec.name, record_id, keys)
        current = Current(spec.name, record_id, 1, hlc, keys, data, False)
        self._cache[(spec.name, record_id)] = current
        return current

    def update(self, spec: EntitySpec, current: Current, changes: dict[str, Any], *,
               hlc: str, deleted: bool, keys: frozenset[str], now: datetime) -> Current:
        """Write a new version of `current` with `changes` applied."""
        data = {**current.data, **changes}
        version = current.version + 1
        row = spec.codec.to_row(changes) if changes else {}
        self.conn.execute(spec.table.update().where(spec.table.c.id == current.record_id).values(
            version=version, updated_at=now, deleted_at=now if deleted else None, **row
        ))
        new = replace(current, version=version, hlc=max(hlc, current.hlc), keys=keys,
                      data=data, deleted=deleted)
        self._write_record(new, now)
        self._replace_keys(current, keys)
        return new

    def rescope(self, current: Current, keys: frozenset[str], now: datetime) -> Current:
        """Change only a record's scope keys (its parent moved); the version stays."""
        new = replace(current, keys=keys)
        r = self.t.record
        self.conn.execute(r.update().where(
            r.c.entity == current.entity, r.c.record_id == current.record_id
        ).values(scope=" ".join(sorted(keys)), updated_at=now))
        self._replace_keys(current, keys)
        self._cache[(current.entity, current.record_id)] = new
        return new

    def children_of(self, spec: EntitySpec, record_id: str) -> list[tuple[EntitySpec, str]]:
        """Live and deleted records whose scope is inherited from this record."""
        found = []
        for child in self.registry.children[spec.name]:
            column = child.table.c[child.scope.field]
            ids = self.conn.execute(sa.select(child.table.c.id).where(column == record_id))
            found.extend((child, child_id) for child_id in ids.scalars())
        return found

    def _write_record(self, new: Current, now: datetime) -> None:
        r = self.t.record
        self.conn.execute(r.update().where(
            r.c.entity == new.entity, r.c.record_id == new.record_id
        ).values(version=new.version, hlc=new.hlc, scope=" ".join(sorted(new.keys)),
                 payload=dumps(new.data), deleted=new.deleted, updated_at=now))
        self._cache[(new.entity, new.record_id)] = new

    def _add_keys(self, entity: str, record_id: str, keys) -> None:
        if keys:
            self.conn.execute(self.t.record_key.insert(), [
                {"key": k, "entity": entity, "record_id": record_id} for k in keys
            ])

    def _replace_keys(self, current: Current, keys: frozenset[str]) -> None:
        gone = current.keys - keys
        if gone:
            rk = self.t.record_key
            self.conn.execute(rk.delete().where(
                rk.c.entity == current.entity, rk.c.record_id == current.record_id,
                rk.c.key.in_(gone),
            ))
        self._add_keys(current.entity, current.record_id, keys - current.keys)
