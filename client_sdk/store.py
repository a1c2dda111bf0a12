"""The device's local SQLite replica: server state, local view, outbox, conflicts, rejections.

Every local write and its outbox entry commit in one SQLite transaction, and every pulled
page commits with its cursor, so a crash at any point leaves a consistent replica.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client_sdk import replica_sql as sql
from client_sdk.errors import ReplicaTooNew
from client_sdk.jsonio import change_data_text
from client_sdk.replica import ServerState, apply_pending, local_view
from server.domain.policies import policy_for
from sync.protocol import (
    ErrorInfo,
    FieldConflict,
    Mutation,
    MutationResult,
    Op,
    RecordState,
    Status,
    compact_json,
    record_json,
)


def _server_row(r: RecordState) -> tuple:
    return (r.entity, r.record_id, r.version, r.hlc, None if r.deleted else record_json(r.data))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")




def _mutation(row) -> Mutation:
    return Mutation(row["mutation_id"], row["entity"], row["id"], Op(row["op"]),
                    row["base_version"], json.loads(row["fields"]), json.loads(row["base"]),
                    row["hlc"])


@dataclass(frozen=True)
class LocalRecord:
    """A record's row: server version and state, the app's view, pending mutation count."""

    version: int | None
    server: ServerState | None
    view: dict[str, Any] | None
    pending: int


def _view_text(record: LocalRecord | None, m: Mutation, fields: str, base: str) -> str | None:
    """The view with `m` on top, `m` as the outbox gives it back (`fields` and `base` are its
    JSON there). The stored view is the replay of the record's pending mutations over its
    server state (refresh_view keeps it so), and the replay is a fold, so one step equals
    replaying them all with `m` last."""
    view = record.view if record else None
    if m.op is Op.CREATE and view is None:
        return fields  # the replay's dict(m.fields), already as JSON
    queued = replace(m, fields=json.loads(fields), base=json.loads(base))
    data = apply_pending(policy_for(m.entity), record.server if record else None, view, queued)
    return None if data is None else compact_json(data)


class LocalStore:
    """Thread-safe access to one replica file (":memory:" for tests).

    Durability (`synchronous`, README.md "SDK"): with the default "NORMAL" a commit is in
    the write-ahead log when it returns, so it survives the app crashing or being killed,
    but reaches the disk only when the OS writes it out or at the next checkpoint; a power
    loss may undo the last commits, never half of one. What must outlive even that is
    forced to disk with `make_durable`: the outbox before the server sees it, tokens before
    they are used. "FULL" syncs every commit: an fsync per local write.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL"):
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._synchronous = synchronous
        self._durable_through = 0  # outbox ids known to be on disk
        self._durable_after_commit = False
        self._check_format()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(sql.SCHEMA)
        self._db.execute(f"PRAGMA user_version={sql.FORMAT}")

    def _check_format(self) -> None:
        found = self._db.execute("PRAGMA user_version").fetchone()[0]
        if found > sql.FORMAT:
            self._db.close()
            raise ReplicaTooNew(f"this replica has format {found}, written by a newer SDK; "
                                f"this one reads up to format {sql.FORMAT}: upgrade it")

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
            if self._durable_after_commit:
                self.make_durable()

    def make_durable(self) -> None:
        """Put every committed transaction on disk, so that not even a power loss undoes it.

        One commit under synchronous=FULL: its sync of the write-ahead log covers every
        earlier commit too. Inside a transaction, that happens right after it commits.
        """
        with self._lock:
            self._durable_after_commit = self._db.in_transaction
            if self._db.in_transaction or self._synchronous == "FULL":
                return
            self._db.execute("PRAGMA synchronous=FULL")  # not allowed inside a transaction
            try:
                with self.transaction() as db:
                    self.set_meta(db, durable_at=_now())  # a commit needs a write
            finally:
                self._db.execute(f"PRAGMA synchronous={self._synchronous}")

    def make_outbox_durable(self, through: int) -> None:
        """Make sure outbox entries up to `through` survive a power loss: due before the
        server sees them, or a device undone by one would give their ids to new mutations,
        which the server would take for replays and answer without applying."""
        with self._lock:
            if through <= self._durable_through:
                return
            if not self._db.in_transaction:
                self._durable_through = int(self.meta("next_mutation_id") or 1) - 1
            self.make_durable()

    # -- meta ------------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, db: sqlite3.Connection, **values: str | None) -> None:
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       list(values.items()))

    def installation_id(self) -> str:
        """This replica's installation id, made once (a random UUID): the server binds the
        device to it, and a replica that forgot it would lose its receipt stream
        (docs/protocol.md §3, §9). No fsync of its own: the tokens of the login that first
        sends it are made durable, which puts it on disk too, before anything is pushed."""
        with self._lock:
            if self.meta("installation_id") is None:
                with self.transaction() as db:
                    self.set_meta(db, installation_id=str(uuid.uuid4()))
            return self.meta("installation_id")

    # -- reads -----------------------------------------------------------------------------

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {sql.VIEW} FROM record WHERE entity = ? AND id = ?",
                                   (entity, record_id)).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def query(self, entity: str, **equals: Any) -> list[dict[str, Any]]:
        """Records of `entity` whose fields equal `equals`, as {"id": ..., **fields}."""
        statement = (f"SELECT id, {sql.VIEW} AS data FROM record "
                     f"WHERE entity = ? AND {sql.VIEW} IS NOT NULL")
        params: list[Any] = [entity]
        for name, value in equals.items():
            if not name.isidentifier():
                raise ValueError(f"not a field name: {name!r}")
            statement += f" AND json_extract({sql.VIEW}, '$.{name}') IS ?"
            params.append(value)
        with self._lock:
            rows = self._db.execute(statement + " ORDER BY id", params).fetchall()
        return [{"id": r["id"], **json.loads(r["data"])} for r in rows]

    def local_record(self, db, entity: str, record_id: str) -> LocalRecord | None:
        row = db.execute(f"SELECT version, hlc, server_data, {sql.VIEW} AS data, pending "
                         "FROM record WHERE entity = ? AND id = ?", (entity, record_id)).fetchone()
        if row is None:
            return None
        server = (None if row["server_data"] is None else
                  ServerState(row["version"], row["hlc"], json.loads(row["server_data"])))
        view = None if row["data"] is None else json.loads(row["data"])
        return LocalRecord(row["version"], server, view, row["pending"])

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
                "records": one(f"SELECT count(*) FROM record WHERE {sql.VIEW} IS NOT NULL"
                               ).fetchone()[0],
            }

    def all_views(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT entity, id, {sql.VIEW} AS data FROM record "
                                    f"WHERE {sql.VIEW} IS NOT NULL").fetchall()
        return {(r["entity"], r["id"]): json.loads(r["data"]) for r in rows}

    def all_server_states(self) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT entity, id, version, server_data FROM record "
                                    "WHERE server_data IS NOT NULL").fetchall()
        return {(r["entity"], r["id"]): (r["version"], json.loads(r["server_data"]))
                for r in rows}

    # -- outbox ----------------------------------------------------------------------------

    def outbox_batch(self, limit: int, *, after: int = 0) -> list[tuple[int, str]]:
        """The oldest `limit` outbox entries with a mutation id above `after` (the next batch
        is read while the one before is still in the outbox), as (mutation_id, wire JSON of
        the mutation): the JSON is built by SQLite around the fields and base the outbox
        keeps as JSON."""
        with self._lock:
            return self._db.execute(f"SELECT mutation_id, {sql.WIRE_MUTATION} FROM outbox "
                                    "WHERE mutation_id > ? ORDER BY mutation_id LIMIT ?",
                                    (after, limit)).fetchall()

    def mark_sent(self, through: int) -> None:
        """Note that outbox entries up to mutation id `through` may be sent (0: none is):
        until their results are stored they are in flight, and may be neither edited nor
        dropped (docs/protocol.md §6.6). Committed before the request leaves; on disk with
        the outbox (make_outbox_durable) when new entries go out."""
        with self.transaction() as db:
            self.set_meta(db, sent_through=str(through))

    def sent_through(self) -> int:
        """The highest mutation id that may be in flight (see mark_sent)."""
        return int(self.meta("sent_through") or 0)

    def pending(self, limit: int | None = None) -> list[Mutation]:
        statement = "SELECT * FROM outbox ORDER BY mutation_id"
        statement += f" LIMIT {int(limit)}" if limit else ""
        with self._lock:
            rows = self._db.execute(statement).fetchall()
        return [_mutation(r) for r in rows]

    def pending_for(self, db, entity: str, record_id: str) -> list[Mutation]:
        rows = db.execute("SELECT * FROM outbox WHERE entity = ? AND id = ? "
                          "ORDER BY mutation_id", (entity, record_id)).fetchall()
        return [_mutation(r) for r in rows]

    def enqueue(self, db, m: Mutation, record: LocalRecord | None) -> None:
        """Add `m` to the outbox and put it on top of the record's view; `record` is the
        record as `local_record` read it in this transaction."""
        fields, base = compact_json(m.fields), compact_json(m.base)
        db.execute("INSERT INTO outbox (mutation_id, entity, id, op, base_version, fields, base, "
                   "hlc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (m.mutation_id, m.entity, m.record_id, str(m.op), m.base_version,
                    fields, base, m.hlc, _now()))
        db.execute("INSERT INTO record (entity, id, data, pending) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, "
                   "pending = excluded.pending",
                   (m.entity, m.record_id, _view_text(record, m, fields, base),
                    1 + (record.pending if record else 0)))

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
        statement = "SELECT * FROM conflict" + (" WHERE open = 1" if only_open else "")
        with self._lock:
            rows = self._db.execute(statement + " ORDER BY seq").fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # -- keeping the view in step ------------------------------------------------------------

    def refresh_view(self, db, entity: str, record_id: str) -> None:
        """Recompute what the app sees for one record from server state + outbox."""
        pending = self.pending_for(db, entity, record_id)
        view = local_view(entity, self.server_state(db, entity, record_id), pending)
        data = None if view.data is None or not pending else compact_json(view.data)
        db.execute("INSERT INTO record (entity, id, data, pending) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, "
                   "pending = excluded.pending", (entity, record_id, data, len(pending)))

    def set_server_state(self, db, entity: str, record_id: str, version: int, hlc: str,
                         text: str | None) -> bool:
        """Store a server state (its data as JSON text, None for none) unless a newer one is
        held; returns whether it was stored."""
        return db.execute(sql.STORE_SERVER_STATE,
                          (entity, record_id, version, hlc, text)).rowcount > 0

    def record_results(self, db, results: Sequence[MutationResult]) -> None:
        """Take a pushed batch's results into the replica, in order (docs/protocol.md §6.3):
        conflicts and rejections are kept, the outbox entries go, each record's server state
        is replaced unless a newer one is held, and the records' views are settled."""
        for result in results:
            for conflict in result.conflicts:
                self._store_conflict(db, result, conflict)
            if result.status is Status.REJECTED and result.error is not None:
                self._store_rejection(db, result.mutation_id, result.error)
        db.executemany("DELETE FROM outbox WHERE mutation_id = ?",
                       [(r.mutation_id,) for r in results])
        db.executemany(sql.STORE_SERVER_STATE, [_server_row(r.record) for r in results
                                            if r.record is not None])
        self._settle_views(db, {(r.entity, r.record_id) for r in results})

    def _settle_views(self, db, records: set[tuple[str, str]]) -> None:
        """refresh_view for each of `records`, without replaying where nothing is left to:
        with no pending mutation the view is the server state, text for text."""
        keys = (compact_json(sorted(records)),)
        db.execute(f"UPDATE record SET data = NULL, pending = 0 WHERE (entity, id) IN "
                   f"({sql.KEYS}) AND NOT EXISTS (SELECT 1 FROM outbox o "
                   f"WHERE o.entity = record.entity AND o.id = record.id)", keys)
        still = db.execute(f"SELECT DISTINCT entity, id FROM outbox WHERE (entity, id) IN "
                           f"({sql.KEYS})", keys).fetchall()
        for entity, record_id in still:
            self.refresh_view(db, entity, record_id)

    def _store_rejection(self, db, mutation_id: int, e: ErrorInfo) -> None:
        """Keep the rejected mutation, as its outbox entry holds it, with the error."""
        db.execute("INSERT OR REPLACE INTO rejected (mutation_id, entity, id, op, "
                   "base_version, fields, base, hlc, code, message, error_fields, at) "
                   "SELECT mutation_id, entity, id, op, base_version, fields, base, hlc, "
                   "?, ?, ?, ? FROM outbox WHERE mutation_id = ?",
                   (e.code, e.message, compact_json(e.fields), _now(), mutation_id))

    def _store_conflict(self, db, r: MutationResult, conflict: FieldConflict) -> None:
        db.execute("INSERT INTO conflict (mutation_id, entity, id, detail, open, at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   (r.mutation_id, r.entity, r.record_id, compact_json(conflict.to_wire()),
                    int(conflict.open), _now()))

    def apply_changes(self, db, changes: Iterable[Mapping[str, Any]]) -> int:
        """Apply pulled changes (see docs/protocol.md §7); returns how many were taken."""
        edited = {(r[0], r[1]) for r in db.execute("SELECT DISTINCT entity, id FROM outbox")}
        plain: Iterable[Mapping[str, Any]] = changes
        taken = 0
        if edited:
            plain = [c for c in changes if (c["entity"], c["id"]) not in edited]
            taken = sum(self._apply_to_edited(db, c) for c in changes
                        if (c["entity"], c["id"]) in edited)
        before = db.total_changes
        db.executemany(sql.STORE_PULLED, [(c["entity"], c["id"], c["version"], c.get("hlc"),
                                        change_data_text(c)) for c in plain])
        taken += db.total_changes - before
        db.execute("DELETE FROM record WHERE server_data IS NULL AND data IS NULL "
                   "AND pending = 0")
        return taken

    def _apply_to_edited(self, db, c: Mapping[str, Any]) -> bool:
        """A pulled change to a record with pending mutations: its view is replayed."""
        if not self.set_server_state(db, c["entity"], c["id"], c["version"], c.get("hlc"),
                                     change_data_text(c)):
            return False
        self.refresh_view(db, c["entity"], c["id"])
        return True

    def forget_server_state(self, db) -> None:
        """For a reset: drop every server state, keep the outbox and rejections."""
        db.execute("UPDATE record SET version = NULL, hlc = NULL, server_data = NULL")
        db.execute("DELETE FROM record WHERE pending = 0")
        for row in db.execute("SELECT DISTINCT entity, id FROM outbox").fetchall():
            self.refresh_view(db, row["entity"], row["id"])
