"""What the server's database really holds, read directly (not through the API under test),
and the convergence checks the end-to-end tests share.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any

import sqlalchemy as sa

from server.models import SYNC_TABLES
from sync.push import stored_results

Key = tuple[str, str]  # (entity, record id)


def live_records(engine: sa.Engine) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Every record that is not deleted: (entity, id) -> (version, data)."""
    r = SYNC_TABLES.record
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.c.entity, r.c.record_id, r.c.version, r.c.payload)
                            .where(r.c.deleted.is_(False)))
        return {(row.entity, row.record_id): (row.version, json.loads(row.payload))
                for row in rows}


def record(engine: sa.Engine, entity: str, record_id: str) -> tuple[int, dict[str, Any]]:
    """One record's (version, data); fails the test if the server does not have it."""
    found = live_records_of(engine, entity, [record_id])
    assert record_id in found, f"the server has no live {entity} {record_id}"
    return found[record_id]


def live_records_of(engine: sa.Engine, entity: str,
                    ids: list[str] | None = None) -> dict[str, tuple[int, dict[str, Any]]]:
    """Live records of one entity (optionally only `ids`): id -> (version, data)."""
    r = SYNC_TABLES.record
    query = sa.select(r.c.record_id, r.c.version, r.c.payload).where(
        r.c.entity == entity, r.c.deleted.is_(False))
    if ids is not None:
        query = query.where(r.c.record_id.in_(ids))
    with engine.connect() as conn:
        return {row.record_id: (row.version, json.loads(row.payload))
                for row in conn.execute(query)}


def receipts(engine: sa.Engine, device_id: str) -> list[int]:
    """The mutation ids the server holds a receipt for, for one device, in order."""
    with engine.connect() as conn:
        return sorted(stored_results(conn, SYNC_TABLES, device_id))


def last_handled(engine: sa.Engine, device_id: str) -> int:
    t = SYNC_TABLES.device
    with engine.connect() as conn:
        return conn.scalar(sa.select(t.c.last_mutation_id).where(t.c.device_id == device_id)
                           ) or 0


def changes_by_device(engine: sa.Engine, device_id: str) -> Counter[Key]:
    """How many change-log rows each record got from one device's pushes."""
    c = SYNC_TABLES.change
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.c.entity, c.c.record_id).where(
            c.c.device_id == device_id))
        return Counter((row.entity, row.record_id) for row in rows)


def change_count(engine: sa.Engine, entity: str, record_id: str) -> int:
    """How many change-log rows one record has (nothing compacts them in these tests)."""
    c = SYNC_TABLES.change
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(c).where(
            c.c.entity == entity, c.c.record_id == record_id))


def rejections(engine: sa.Engine) -> list[dict[str, Any]]:
    t = SYNC_TABLES.rejection
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(t))]


def conflicts(engine: sa.Engine) -> list[dict[str, Any]]:
    t = SYNC_TABLES.conflict
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(
            sa.select(t).order_by(t.c.created_at, t.c.id))]


def writing(engine: sa.Engine) -> bool:
    """Whether another connection is inside a write transaction on the server's database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.scalar(sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = "
                "current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL)"))
    # SQLite has one writer at a time: if the write lock cannot be had at once, it is held.
    probe = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def assert_replica_matches_server(client, engine: sa.Engine) -> None:
    """Nothing pending, and every record the device holds is the server's, version and all."""
    assert client.pending() == []
    server = live_records(engine)
    held = client.store.all_server_states()
    views = client.store.all_views()
    assert views.keys() == held.keys(), "a local view without server state, or the reverse"
    for key, (version, data) in held.items():
        assert key in server, f"the device holds {key}, which the server does not have"
        assert (version, data) == server[key], f"{key} differs from the server"
        assert views[key] == data, f"the device shows {key} unlike its server state"


def assert_same_replica(client, fresh) -> None:
    """A long-lived replica equals one freshly downloaded for the same user: same records,
    same versions, same data (so its scope and everything in it are right)."""
    assert client.store.all_server_states() == fresh.store.all_server_states()
    assert client.store.all_views() == fresh.store.all_views()
