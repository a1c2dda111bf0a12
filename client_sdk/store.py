"""The device's local SQLite replica: server state, local view, outbox, conflicts, rejections.

Every local write and its outbox entry commit in one SQLite transaction, and every pulled
page commits with its cursor, so a crash at any point leaves a consistent replica.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client_sdk.replica import ServerState, local_view
from sync.protocol import FieldConflict, Mutation, MutationResult, Op, Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER,            -- server version; NULL until the server acknowledged it
    hlc TEXT,
    server_data TEXT,           -- the server's state (JSON); NULL when it has none
    data TEXT,                  -- what the app sees (JSON); NULL when deleted or absent
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, id)
);
CREATE TABLE IF NOT EXISTS outbox (
    mutation_id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, base_version INTEGER,
    fields TEXT NOT NULL, base TEXT NOT NULL, hlc TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_record ON outbox (entity, id, mutation_id);
CREATE TABLE IF NOT EXISTS rejected (
    mutation_id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, base_version INTEGER,
    fields TEXT NOT NULL, base TEXT NOT NULL, hlc TEXT,
    code TEXT NOT NULL, message TEXT NOT NULL, error_fields TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conflict (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id INTEGER, entity TEXT NOT NULL, id TEXT NOT NULL, detail TEXT NOT NULL,
    open INTEGER NOT NULL, at TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _mutation(row) -> Mutation:
    return Mutation(row["mutation_id"], row["entity"], row["id"], Op(row["op"]),
                    row["base_version"], json.loads(row["fields"]), json.loads(row["base"]),
                    row["hlc"])


class LocalStore:
    """Thread-safe access to one replica file (":memory:" for tests)."""

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a pulled battery must not lose a write
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction, holding the store's lock. A transaction opened inside
        another (same thread) joins it: everything commits or rolls back together."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, db: sqlite3.Connection, **values: str | None) -> None:
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       list(values.items()))

    # -- reads -----------------------------------------------------------------------------

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM record WHERE entity = ? AND id = ?",
                                   (entity, record_id)).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def query(self, entity: str, **equals: Any) -> list[dict[str, Any]]:
        """Records of `entity` whose fields equal `equals`, as {"id": ..., **fields}."""
        sql = "SELECT id, data FROM record WHERE entity = ? AND data IS NOT NULL"
        params: list[Any] = [entity]
        for name, value in equals.items():
            if not name.isidentifier():
                raise ValueError(f"not a field name: {name!r}")
            sql += f" AND json_extract(data, '$.{name}') IS ?"
            params.append(value)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", params).fetchall()
        return [{"id": r["id"], **json.loads(r["data"])} for r in rows]

    def server_state(self, db, entity: str, record_id: str) -> ServerState | None:
        row = db.execute("SELECT version, hlc, server_data FROM record "
                         "WHERE entity = ? AND id = ?", (entity, record_id)).fetchone()
        if row is None or row["server_data"] is None:
            return None
        return ServerState(row["version"], row["hlc"], json.loads(row["server_data"]))

    def version(self, entity: str, record_id: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT version FROM record WHERE entity = ? AND id = ?",
                                   (entity, record_id)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            one = self._db.execute
            return {
                "pending": one("SELECT count(*) FROM outbox").fetchone()[0],
                "rejected": one("SELECT count(*) FROM rejected").fetchone()[0],
                "open_conflicts": one("SELECT count(*) FROM conflict WHERE open = 1 AND seen = 0"
                                      ).fetchone()[0],
                "records": one("SELECT count(*) FROM record WHERE data IS NOT NULL"
                               ).fetchone()[0],
            }

    def all_views(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT entity, id, data FROM record "
                                    "WHERE data IS NOT NULL").fetchall()
        return {(r["entity"], r["id"]): json.loads(r["data"]) for r in rows}

    def all_server_states(self) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT entity, id, version, server_data FROM record "
                                    "WHERE server_data IS NOT NULL").fetchall()
        return {(r["entity"], r["id"]): (r["version"], json.loads(r["server_data"]))
                for r in rows}

    # -- outbox ----------------------------------------------------------------------------

    def pending(self, limit: int | None = None) -> list[Mutation]:
        sql = "SELECT * FROM outbox ORDER BY mutation_id"
        with self._lock:
            rows = self._db.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
        return [_mutation(r) for r in rows]

    def pending_for(self, db, entity: str, record_id: str) -> list[Mutation]:
        rows = db.execute("SELECT * FROM outbox WHERE entity = ? AND id = ? "
                          "ORDER BY mutation_id", (entity, record_id)).fetchall()
        return [_mutation(r) for r in rows]

    def enqueue(self, db, m: Mutation) -> None:
        db.execute("INSERT INTO outbox (mutation_id, entity, id, op, base_version, fields, base, "
                   "hlc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (m.mutation_id, m.entity, m.record_id, str(m.op), m.base_version,
                    _dumps(m.fields), _dumps(m.base), m.hlc, _now()))

    def rejected(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM rejected ORDER BY mutation_id").fetchall()
        return [{**dict(r), "fields": json.loads(r["fields"]), "base": json.loads(r["base"]),
                 "error_fields": json.loads(r["error_fields"])} for r in rows]

    def discard_rejected(self, mutation_id: int) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM rejected WHERE mutation_id = ?",
                              (mutation_id,)).rowcount > 0

    def conflicts(self, *, only_open: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM conflict" + (" WHERE open = 1" if only_open else "")
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq").fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # -- keeping the view in step ------------------------------------------------------------

    def refresh_view(self, db, entity: str, record_id: str) -> None:
        """Recompute what the app sees for one record from server state + outbox."""
        pending = self.pending_for(db, entity, record_id)
        view = local_view(entity, self.server_state(db, entity, record_id), pending)
        data = None if view.data is None else _dumps(view.data)
        db.execute("INSERT INTO record (entity, id, data, pending) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, "
                   "pending = excluded.pending", (entity, record_id, data, len(pending)))

    def set_server_state(self, db, entity: str, record_id: str, version: int, hlc: str,
                         data: Mapping[str, Any] | None) -> bool:
        """Store a server state unless a newer one is held; returns whether it was stored."""
        row = db.execute("SELECT version FROM record WHERE entity = ? AND id = ?",
                         (entity, record_id)).fetchone()
        if row and row[0] is not None and row[0] > version:
            return False
        text = None if data is None else _dumps(data)
        db.execute("INSERT INTO record (entity, id, version, hlc, server_data) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity, id) DO UPDATE SET "
                   "version = excluded.version, hlc = excluded.hlc, "
                   "server_data = excluded.server_data", (entity, record_id, version, hlc, text))
        return True

    def record_result(self, db, m: Mutation, result: MutationResult) -> None:
        """Take an acknowledged result into the replica; the outbox entry goes."""
        db.execute("DELETE FROM outbox WHERE mutation_id = ?", (m.mutation_id,))
        if result.record is not None:
            r = result.record
            self.set_server_state(db, r.entity, r.record_id, r.version, r.hlc,
                                  None if r.deleted else r.data)
        for conflict in result.conflicts:
            self._store_conflict(db, m, conflict)
        if result.status is Status.REJECTED and result.error is not None:
            e = result.error
            db.execute("INSERT OR REPLACE INTO rejected (mutation_id, entity, id, op, "
                       "base_version, fields, base, hlc, code, message, error_fields, at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (m.mutation_id, m.entity, m.record_id, str(m.op), m.base_version,
                        _dumps(m.fields), _dumps(m.base), m.hlc, e.code, e.message,
                        _dumps(e.fields), _now()))
        self.refresh_view(db, m.entity, m.record_id)

    def _store_conflict(self, db, m: Mutation, conflict: FieldConflict) -> None:
        db.execute("INSERT INTO conflict (mutation_id, entity, id, detail, open, at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (m.mutation_id, m.entity, m.record_id,
                                                 _dumps(conflict.to_wire()), int(conflict.open),
                                                 _now()))

    def apply_changes(self, db, changes: Iterable[Mapping[str, Any]]) -> int:
        """Apply pulled changes (see docs/protocol.md §7); returns how many were taken."""
        taken = 0
        plain: list[tuple] = []
        edited = {(r[0], r[1]) for r in db.execute("SELECT DISTINCT entity, id FROM outbox")}
        for c in changes:
            entity, record_id, version = c["entity"], c["id"], c["version"]
            data = c.get("data") if c["op"] == "put" else None
            if (entity, record_id) in edited:
                if self.set_server_state(db, entity, record_id, version, c.get("hlc"), data):
                    self.refresh_view(db, entity, record_id)
                    taken += 1
                continue
            text = None if data is None else _dumps(data)
            plain.append((entity, record_id, version, c.get("hlc"), text, text, version))
        if plain:
            # Records without local edits: server state and view are the same.
            before = db.total_changes
            db.executemany(
                "INSERT INTO record (entity, id, version, hlc, server_data, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity, id) DO UPDATE SET "
                "version = excluded.version, hlc = excluded.hlc, "
                "server_data = excluded.server_data, data = excluded.data "
                "WHERE record.version IS NULL OR record.version <= ?", plain)
            taken += db.total_changes - before
        db.execute("DELETE FROM record WHERE server_data IS NULL AND data IS NULL "
                   "AND pending = 0")
        return taken

    def forget_server_state(self, db) -> None:
        """For a reset: drop every server state, keep the outbox and rejections."""
        db.execute("UPDATE record SET version = NULL, hlc = NULL, server_data = NULL")
        db.execute("DELETE FROM record WHERE pending = 0")
        for row in db.execute("SELECT DISTINCT entity, id FROM outbox").fetchall():
            self.refresh_view(db, row["entity"], row["id"])
