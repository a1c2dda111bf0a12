"""Drive the sync engine directly (no HTTP) against the test world, one transaction per call."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from server.domain import actor_for
from server.extensions import db
from server.models import SYNC_TABLES
from sync.database import write_transaction
from sync.engine import SyncEngine
from sync.protocol import Mutation, MutationResult, Op
from sync.records import Current, RecordStore
from tests.world import World, build_world

T = SYNC_TABLES


def uid() -> str:
    return str(uuid.uuid4())


def update(mutation_id: int, entity: str, record_id: str, base_version: int,
           fields: Mapping[str, Any], base: Mapping[str, Any] | None = None,
           hlc: str | None = None) -> Mutation:
    return Mutation(mutation_id, entity, record_id, Op.UPDATE, base_version=base_version,
                    fields=dict(fields), base=dict(base or {}), hlc=hlc)


def create(mutation_id: int, entity: str, record_id: str, fields: Mapping[str, Any]) -> Mutation:
    return Mutation(mutation_id, entity, record_id, Op.CREATE, fields=dict(fields))


def delete(mutation_id: int, entity: str, record_id: str, base_version: int) -> Mutation:
    return Mutation(mutation_id, entity, record_id, Op.DELETE, base_version=base_version)


class Harness:
    """The test world plus short-hands to push, write and read back engine state."""

    def __init__(self, app, world: World | None = None, engine: SyncEngine | None = None):
        self.app = app
        self.w = world or build_world(app)
        self.sync: SyncEngine = engine or app.extensions["fieldsync.sync"]
        self.devices: dict[str, str] = {}

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.app.app_context(), write_transaction(db.engine) as conn:
            yield conn

    def device(self, name: str) -> str:
        """A stable device id per device name (a user may have several devices)."""
        return self.devices.setdefault(name, uid())

    def actor(self, user: str, conn: sa.Connection, device: str | None = None):
        """`user` as the engine's actor, from `device` (default: the user's one device)."""
        created = self.w.users[user]
        return actor_for(conn, created.id, created.role, self.device(device or user))

    def push(self, user: str, mutations: Sequence[Mutation],
             device: str | None = None) -> list[MutationResult]:
        """Push as `user` from `device` (default: the user's one device)."""
        created = self.w.users[user]
        with self.tx() as conn:
            actor = actor_for(conn, created.id, created.role, self.device(device or user))
            return self.sync.push(conn, actor, mutations)

    def write(self, entity: str, record_id: str, op: Op,
              fields: Mapping[str, Any] | None = None) -> MutationResult:
        """A server-side change (back office) under the engine's rules."""
        with self.tx() as conn:
            return self.sync.write(conn, entity, record_id, op, fields)

    def record(self, entity: str, record_id: str) -> Current:
        with self.tx() as conn:
            current = RecordStore(conn, T, self.sync.registry).get(entity, record_id)
        assert current is not None, f"no {entity} {record_id}"
        return current

    def find_id(self, entity: str, **equals: Any) -> str:
        with self.tx() as conn:
            return RecordStore(conn, T, self.sync.registry).find_id(entity, **equals)

    def rows(self, table: sa.Table, *where) -> list[dict[str, Any]]:
        with self.tx() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table).where(*where))]

    def conflicts(self, entity: str, record_id: str) -> list[dict[str, Any]]:
        c = T.conflict
        return self.rows(c, c.c.entity == entity, c.c.record_id == record_id)

    def rejections(self, device: str) -> list[dict[str, Any]]:
        r = T.rejection
        return self.rows(r, r.c.device_id == self.device(device))

    def change_count(self, entity: str | None = None, record_id: str | None = None) -> int:
        c = T.change
        query = sa.select(sa.func.count()).select_from(c)
        if entity is not None:
            query = query.where(c.c.entity == entity, c.c.record_id == record_id)
        with self.tx() as conn:
            return conn.execute(query).scalar_one()

    def domain_row(self, entity: str, record_id: str) -> dict[str, Any]:
        table = self.sync.registry[entity].table
        rows = self.rows(table, table.c.id == record_id)
        assert len(rows) == 1
        return rows[0]
