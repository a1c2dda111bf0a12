"""Current state of replicated records: the domain row, its sync view and its scope keys.

Every write to a replicated record goes through `RecordStore`, a small unit of work: writes
update an in-memory view at once (so later mutations of a batch see them) and reach the
database in bulk at `flush()`, which keeps the domain table, `sync_record` (the ready-to-send
JSON and scope of each record) and `sync_record_key` in step. `begin`/`commit`/`rollback`
bracket one mutation, so a rejected mutation leaves no trace in memory either. Each written
version also leaves a row of the audit trail (`sync_audit`: who, how, each changed field's
before and after), inserted with the rest at `flush()`.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.bulk import EncodedJSON, insert_rows
from sync.entities import EntitySpec, Inherit, Registry
from sync.frozen import quick_init
from sync.locking import missing
from sync.protocol import record_json
from sync.store import SyncTables

Key = tuple[str, str]
_ABSENT = object()
_NOTHING: Mapping = {}


@quick_init
@dataclass(frozen=True)
class Current:
    entity: str
    record_id: str
    version: int
    hlc: str
    keys: frozenset[str]
    data: dict[str, Any]
    deleted: bool


@quick_init
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


_CHUNK = 500  # ids per IN list
_PARTS = 20  # IN lists per statement


def _record_columns(r: sa.Table) -> tuple:
    return r.c.entity, r.c.record_id, r.c.version, r.c.hlc, r.c.scope, r.c.payload, r.c.deleted


@functools.lru_cache(maxsize=64)
def _prefetch_query(tables: SyncTables, parts: int):
    """Records of several (entity, ids) lists in one round trip: one index lookup per list,
    joined by UNION ALL. Built once per number of lists and bound."""
    r = tables.record
    selects = [sa.select(*_record_columns(r)).where(
        r.c.entity == sa.bindparam(f"entity_{i}"),
        r.c.record_id.in_(sa.bindparam(f"ids_{i}", expanding=True))) for i in range(parts)]
    return selects[0] if parts == 1 else sa.union_all(*selects)


@functools.lru_cache(maxsize=8)
def _locking_query(tables: SyncTables, exclusive: bool):
    r = tables.record
    return (sa.select(*_record_columns(r))
            .where(r.c.entity == sa.bindparam("entity"),
                   r.c.record_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(r.c.record_id).with_for_update(read=not exclusive))


# Built once per table: every push runs them, and building a statement (and its cache key)
# costs about as much as the database's work for a small batch. The columns to set come
# from the parameters.
@functools.lru_cache(maxsize=64)
def _update_by_id(table: sa.Table) -> sa.Update:
    return table.update().where(table.c.id == sa.bindparam("_id"))


@functools.lru_cache(maxsize=8)
def _update_by_key(r: sa.Table) -> sa.Update:
    return r.update().where(r.c.entity == sa.bindparam("_entity"),
                            r.c.record_id == sa.bindparam("_record_id"))


@functools.lru_cache(maxsize=8)
def _delete_record_key(rk: sa.Table) -> sa.Delete:
    return rk.delete().where(rk.c.entity == sa.bindparam("_entity"),
                             rk.c.record_id == sa.bindparam("_record_id"),
                             rk.c.key == sa.bindparam("_key"))


@functools.lru_cache(maxsize=8)
def _table_order(metadata: sa.MetaData, _table_count: int) -> dict[str, int]:
    """Each table's place in foreign-key order (parents first), sorted once per metadata
    and number of tables: sorting costs about a third of a millisecond, as much as a small
    push's own work."""
    return {t.name: i for i, t in enumerate(metadata.sorted_tables)}


class RecordStore:
    """Reads and writes records within one transaction."""

    def __init__(self, conn: sa.Connection, tables: SyncTables, registry: Registry, *,
                 author: Mapping[str, Any] | None = None):
        """`author` ({"user_id", "device_id", "source"}) signs the audit rows of the writes;
        set `mutation_id` before each mutation's writes to name it there."""
        self.conn, self.t, self.registry = conn, tables, registry
        self.author = {"user_id": None, "device_id": None, "source": "server", **(author or {})}
        self.mutation_id: int | None = None
        self._audit: dict[tuple[str, str, int], dict[str, Any]] = {}  # by written version
        self._cache: dict[Key, Current | None] = {}  # what the transaction sees
        self._stored: dict[Key, Current | None] = {}  # what the database holds
        self._rows: dict[Key, dict[str, Any]] = {}  # domain columns to write
        self._dirty: dict[Key, datetime] = {}  # records whose sync view must be written
        self._conflicts: list[dict[str, Any]] = []
        self._made: set[tuple[str, str, int]] = set()  # versions written by this transaction
        self.locked: dict[Key, bool] = {}  # records locked: key -> exclusively
        self._journal: list[tuple[dict, Key, Any]] | None = None
        # the sync view's JSON of each record as last flushed: (version, payload)
        self.payloads: dict[Key, tuple[int, str]] = {}
        metadata = tables.record.metadata
        self._table_order = _table_order(metadata, len(metadata.tables))

    # -- one mutation at a time ----------------------------------------------------------

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        """Undo every in-memory write since begin()."""
        for mapping, key, old in reversed(self._journal or []):
            if mapping is self._conflicts:
                del self._conflicts[key:]
            elif old is _ABSENT:
                mapping.pop(key, None)
            else:
                mapping[key] = old
        self._journal = None

    def _set(self, mapping: dict, key, value) -> None:
        if self._journal is not None:
            self._journal.append((mapping, key, mapping.get(key, _ABSENT)))
        mapping[key] = value

    # -- reading -------------------------------------------------------------------------

    def get(self, entity: str, record_id: str) -> Current | None:
        key = (entity, record_id)
        if key not in self._cache:
            self.prefetch([key])
        return self._cache[key]

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Load many records in a few queries, without locking them (see `lock`)."""
        wanted: dict[str, dict[str, None]] = {}  # ids per entity, in order, once each
        for entity, record_id in keys:
            if (entity, record_id) not in self._cache and record_id:
                wanted.setdefault(entity, {})[record_id] = None
        chunks = [(entity, ids[start:start + _CHUNK])
                  for entity, ids in ((e, list(found)) for e, found in wanted.items())
                  for start in range(0, len(ids), _CHUNK)]
        for start in range(0, len(chunks), _PARTS):
            part = chunks[start:start + _PARTS]
            params = {f"{name}_{i}": value for i, (entity, ids) in enumerate(part)
                      for name, value in (("entity", entity), ("ids", ids))}
            self._remember(self.conn.execute(_prefetch_query(self.t, len(part)), params), part)

    def lock(self, wanted: Mapping[Key, bool]) -> None:
        """Lock records until the transaction ends and read them again: key -> exclusive
        (FOR UPDATE) or shared (FOR SHARE), in the global order of sync.locking (depth in
        the scope tree, entity, id). What this transaction wrote itself it holds already.

        On PostgreSQL a locked copy is the latest committed version, so a writer that waited
        decides on what the writer before it committed, never on a stale read. SQLite's
        writers are serialised by its write lock, so there the records are only loaded.
        """
        todo = missing(wanted, self.locked)
        if self.conn.dialect.name != "postgresql":
            self.prefetch(todo)
            self.locked.update((key, True) for key in todo)
            return
        todo.sort(key=lambda k: (self.registry.depth[k[0]], k))
        for (entity, exclusive), run in itertools.groupby(
                todo, key=lambda k: (k[0], wanted[k])):
            ids = [record_id for _, record_id in run]
            for start in range(0, len(ids), _CHUNK):
                part = ids[start:start + _CHUNK]
                rows = self.conn.execute(_locking_query(self.t, exclusive),
                                         {"entity": entity, "ids": part})
                self._remember(rows, [(entity, part)], keep=self._dirty)
            self.locked.update(((entity, i), exclusive) for i in ids)

    def assume_absent(self, keys: Iterable[Key]) -> None:
        """Take records not read yet to be missing, without a query (see Applier.prefetch):
        writing one that exists fails on the primary key of its tables."""
        for key in keys:
            if key not in self._cache:
                self._cache[key] = self._stored[key] = None

    def _remember(self, rows, chunks: list[tuple[str, list[str]]], *,
                  keep: Mapping[Key, Any] = _NOTHING) -> None:
        """Cache what `rows` hold of the records named in `chunks` (missing: None), except
        the records in `keep` (written here: the cached copy is newer)."""
        found = {(row.entity, row.record_id): row for row in rows}
        for entity, ids in chunks:
            for record_id in ids:
                if (entity, record_id) in keep:
                    continue
                row = found.get((entity, record_id))
                current = None if row is None else Current(
                    entity, record_id, row.version, row.hlc,
                    frozenset(row.scope.split()), json.loads(row.payload), row.deleted)
                self._cache[(entity, record_id)] = self._stored[(entity, record_id)] = current

    def find_id(self, entity: str, **equals: Any) -> str | None:
        """The id of a live record of `entity` whose fields equal `equals`."""
        table = self.registry[entity].table
        clauses = [table.c[name] == value for name, value in equals.items()]
        found = self.conn.execute(
            sa.select(table.c.id).where(*clauses, table.c.deleted_at.is_(None)).limit(5)
        ).scalars().all()
        candidates = [*found, *self._unflushed_ids(entity)]
        for record_id in candidates:
            record = self.get(entity, record_id)
            if record and not record.deleted and all(
                    record.data.get(k) == v for k, v in equals.items()):
                return record_id
        return None

    def children_of(self, spec: EntitySpec, record_id: str, *,
                    lock: bool = False) -> list[tuple[EntitySpec, str]]:
        """Records whose scope is inherited from this record (live and deleted); with
        `lock`, locked for update (the caller holds this record exclusively, see
        sync.locking) and read again."""
        found = []
        for child in self.registry.children[spec.name]:
            column = child.table.c[child.scope.field]
            ids = set(self.conn.execute(
                sa.select(child.table.c.id).where(column == record_id)).scalars())
            ids.update(self._unflushed_ids(child.name))
            if lock:
                self.lock({(child.name, i): True for i in ids})
            else:
                self.prefetch((child.name, i) for i in ids)
            found.extend((child, i) for i in sorted(ids)
                         if (c := self.get(child.name, i)) is not None
                         and c.data.get(child.scope.field) == record_id)
        return found

    def made_here(self, entity: str, record_id: str, version: int) -> bool:
        """Whether this transaction wrote that version of the record (rolled back or not:
        no other writer can take the number while the transaction holds the record)."""
        return (entity, record_id, version) in self._made

    def _unflushed_ids(self, entity: str) -> list[str]:
        return [k[1] for k in self._rows if k[0] == entity and self._stored.get(k) is None]

    def scope_of(self, spec: EntitySpec, record_id: str, data: Mapping[str, Any]) -> frozenset:
        rule = spec.scope
        if isinstance(rule, Inherit):
            parent_id = data.get(rule.field)
            parent = self.get(rule.entity, parent_id) if parent_id else None
            if parent is None:
                return frozenset()
            return frozenset(k for k in parent.keys if k.startswith(rule.prefixes))
        return frozenset(rule.compute({**data, "id": record_id}))

    # -- writing (in memory until flush) ---------------------------------------------------

    def insert(self, spec: EntitySpec, record_id: str, data: dict[str, Any], *, hlc: str,
               keys: frozenset[str], now: datetime, device_id: str | None) -> Current:
        key = (spec.name, record_id)
        self._set(self._rows, key, {"id": record_id, "version": 1, "created_at": now,
                                    "updated_at": now, "deleted_at": None,
                                    **spec.codec.to_row(data)})
        current = Current(spec.name, record_id, 1, hlc, keys, data, False)
        self._note(current, "create", None, data, now)
        self._made.add((*key, 1))
        self._set(self._cache, key, current)
        self._set(self._dirty, key, now)
        return current

    def update(self, spec: EntitySpec, current: Current, changes: dict[str, Any], *,
               hlc: str, deleted: bool, keys: frozenset[str], now: datetime) -> Current:
        """A new version of `current` with `changes` applied."""
        key = (current.entity, current.record_id)
        version = current.version + 1
        self._made.add((*key, version))
        row = {**self._rows.get(key, {}), "version": version, "updated_at": now,
               "deleted_at": now if deleted else None, **spec.codec.to_row(changes)}
        self._set(self._rows, key, row)
        new = replace(current, version=version, hlc=max(hlc, current.hlc), keys=keys,
                      data={**current.data, **changes}, deleted=deleted)
        self._set(self._cache, key, new)
        self._set(self._dirty, key, now)
        if deleted:
            self._note(new, "delete", current.data, None, now)
        else:
            before = {k: current.data.get(k) for k in changes}
            self._note(new, "restore" if current.deleted else "update", before, changes, now)
        return new

    def _note(self, record: Current, op: str, before: Mapping | None, after: Mapping | None,
              now: datetime) -> None:
        """Keep the audit row of a written version (journaled like every other write)."""
        self._set(self._audit, (record.entity, record.record_id, record.version), {
            "entity": record.entity, "record_id": record.record_id, "version": record.version,
            "op": op, "before": before, "after": after, **self.author,
            "mutation_id": self.mutation_id, "created_at": now})

    def rescope(self, current: Current, keys: frozenset[str], now: datetime) -> Current:
        """Change only a record's scope keys (its parent moved); the version stays."""
        key = (current.entity, current.record_id)
        new = replace(current, keys=keys)
        self._set(self._cache, key, new)
        self._set(self._dirty, key, now)
        return new

    def add_conflicts(self, rows: list[dict[str, Any]]) -> None:
        if self._journal is not None:
            self._journal.append((self._conflicts, len(self._conflicts), None))
        self._conflicts.extend(rows)

    # -- flush -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered, in bulk. Raises IntegrityError for a broken constraint."""
        self._flush_domain_rows()
        self._flush_sync_view()
        if self._conflicts:
            insert_rows(self.conn, self.t.conflict, self._conflicts)
        self._flush_audit()
        for key in self._dirty:
            self._stored[key] = self._cache[key]
        self._rows, self._dirty, self._conflicts = {}, {}, []

    def _flush_audit(self) -> None:
        """The audit rows of this flush in one insert. A create's fields are the record as
        the sync view just encoded it, unless the flush holds a later version too."""
        rows = []
        for (entity, record_id, version), row in self._audit.items():
            written = self.payloads.get((entity, record_id))
            after = (EncodedJSON(written[1]) if row["op"] == "create" and written
                     and written[0] == version
                     else _encoded(row["after"]))
            rows.append({**row, "before": _encoded(row["before"]), "after": after})
        insert_rows(self.conn, self.t.audit, rows)
        self._audit = {}

    def _flush_domain_rows(self) -> None:
        inserts: dict[str, list[dict]] = {}
        updates: dict[tuple[str, tuple[str, ...]], list[dict]] = {}
        for (entity, record_id), row in self._rows.items():
            table = self.registry[entity].table
            if self._stored.get((entity, record_id)) is None:
                inserts.setdefault(table.name, []).append(row)
            else:
                columns = tuple(sorted(row))
                updates.setdefault((table.name, columns), []).append(
                    {**row, "_id": record_id})
        tables = self.t.record.metadata.tables
        for name in sorted(inserts, key=self._table_order.__getitem__):
            insert_rows(self.conn, tables[name], inserts[name])
        for (name, _columns), rows in updates.items():
            table = tables[name]
            # One lock order for every writer: concurrent pushes touching the same rows
            # wait for each other instead of deadlocking.
            rows.sort(key=lambda row: row["_id"])
            self.conn.execute(_update_by_id(table), rows)

    def _flush_sync_view(self) -> None:
        r, rk = self.t.record, self.t.record_key
        new_rows, changed_rows, gone_keys, new_keys, written = [], [], [], [], {}
        for key, now in self._dirty.items():
            current, stored = self._cache[key], self._stored.get(key)
            payload = record_json(current.data)
            written[key] = (current.version, payload)
            row = {"version": current.version, "hlc": current.hlc,
                   "scope": " ".join(sorted(current.keys)), "payload": payload,
                   "deleted": current.deleted, "updated_at": now}
            before = stored.keys if stored else frozenset()
            if stored is None:
                new_rows.append({"entity": key[0], "record_id": key[1], **row})
            else:
                changed_rows.append({"_entity": key[0], "_record_id": key[1], **row})
            gone_keys += [{"_entity": key[0], "_record_id": key[1], "_key": k}
                          for k in before - current.keys]
            new_keys += [{"key": k, "entity": key[0], "record_id": key[1]}
                         for k in current.keys - before]
        if new_rows:
            insert_rows(self.conn, r, new_rows)
        if changed_rows:
            changed_rows.sort(key=lambda row: (row["_entity"], row["_record_id"]))
            self.conn.execute(_update_by_key(r), changed_rows)
        if gone_keys:
            self.conn.execute(_delete_record_key(rk), gone_keys)
        if new_keys:
            insert_rows(self.conn, rk, new_keys)
        self.payloads.update(written)  # only once every write went through


def _encoded(values: Mapping[str, Any] | None) -> EncodedJSON | None:
    return None if values is None else EncodedJSON(record_json(values))
