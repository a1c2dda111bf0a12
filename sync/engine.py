"""The engine's front door: push, pull and server-side writes over one set of tables.

`SyncEngine` holds what does not change between requests (tables, entity registry, cursor
secret, the server's hybrid logical clock); each call takes the connection to work in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync import changelog
from sync import pull as pull_mod
from sync import push as push_mod
from sync.apply import Applier
from sync.entities import ALL, Actor, Registry
from sync.errors import MutationRejected
from sync.hlc import Clock
from sync.protocol import DEFAULT_PULL_LIMIT, PULL_PAGE_BYTES, Mutation, MutationResult, Op
from sync.push import DB_REFUSALS
from sync.sqltypes import utcnow
from sync.store import SyncTables

SERVER_ACTOR = Actor(user_id=None, role="admin", keys=frozenset({ALL}))


class SyncEngine:
    def __init__(self, tables: SyncTables, registry: Registry, *, secret: bytes,
                 clock: Clock | None = None, page_bytes: int = PULL_PAGE_BYTES):
        self.tables, self.registry, self.secret = tables, registry, secret
        self.clock = clock or Clock("server")
        self.page_bytes = page_bytes  # see sync.pull.pull

    def push(self, conn: sa.Connection, actor: Actor, mutations: Sequence[Mutation],
             *, now: datetime | None = None) -> list[MutationResult]:
        """See sync.push.push; `actor.device_id` is required."""
        return push_mod.push(conn, self.tables, self.registry, actor, mutations,
                             clock=self.clock, now=now)

    def push_json(self, conn: sa.Connection, actor: Actor, mutations: Sequence[Mutation],
                  *, now: datetime | None = None) -> list[str]:
        """See sync.push.push_json: the results as wire JSON, for the HTTP answer."""
        return push_mod.push_json(conn, self.tables, self.registry, actor, mutations,
                                  clock=self.clock, now=now)

    def pull(self, conn: sa.Connection, keys: Iterable[str], cursor: str | None,
             limit: int = DEFAULT_PULL_LIMIT) -> pull_mod.PullPage:
        """See sync.pull.pull."""
        return pull_mod.pull(conn, self.tables, keys, cursor, secret=self.secret, limit=limit,
                             max_bytes=self.page_bytes)

    def write(self, conn: sa.Connection, entity: str, record_id: str, op: Op,
              fields: Mapping[str, Any] | None = None, *, actor: Actor = SERVER_ACTOR,
              now: datetime | None = None, source: str = "server") -> MutationResult:
        """A server-side change (back office, jobs, imports) under the same rules as a push.

        The writer sees the current version, so nothing conflicts. `source` names the writer
        in the audit trail. Raises MutationRejected when the change breaks a rule; the
        caller's transaction decides what to keep.
        """
        results = self.write_many(conn, [(entity, record_id, op, fields or {})], actor=actor,
                                  now=now, source=source)
        return results[0]

    def write_many(self, conn: sa.Connection,
                   changes: Sequence[tuple[str, str, Op, Mapping[str, Any]]], *,
                   actor: Actor = SERVER_ACTOR, now: datetime | None = None,
                   source: str = "server") -> list[MutationResult]:
        """Several server-side changes in order, logged together. Raises MutationRejected."""
        now = now or utcnow()
        applier = Applier(conn, self.tables, self.registry, actor, clock=self.clock, now=now,
                          source=source)
        entries, results = [], []
        planned = [Mutation(0, entity, record_id, Op(op), fields=dict(fields))
                   for entity, record_id, op, fields in changes]
        applier.prefetch(planned)
        for m in planned:
            current = applier.store.get(m.entity, m.record_id)
            # The writer sees the current record: what it sends is the value it means, so
            # the current values are its base (a counter is set, not incremented).
            base = {k: current.data.get(k) for k in m.fields} if current else {}
            mutation = Mutation(0, m.entity, m.record_id, m.op,
                                base_version=current.version if current else None,
                                fields=m.fields, base=base)
            outcome = applier.apply(mutation)
            entries += outcome.changes
            results.append(outcome.result)
        savepoint = conn.begin_nested()
        try:
            applier.store.flush()
        except DB_REFUSALS as exc:
            savepoint.rollback()
            raise MutationRejected("integrity_error", "the record breaks a database constraint",
                                   fields={"_record": [str(exc.orig).splitlines()[0]]}) from exc
        savepoint.commit()
        changelog.append(conn, self.tables, entries)
        return results

    def import_records(self, conn: sa.Connection, entity: str,
                       records: Iterable[Mapping[str, Any]]) -> int:
        """Create records (wire-form dicts with "id") as the server; returns how many."""
        changes = [(entity, r["id"], Op.CREATE, {k: v for k, v in r.items() if k != "id"})
                   for r in records]
        return len(self.write_many(conn, changes))

