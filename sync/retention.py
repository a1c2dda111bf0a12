"""Retention: compact the change log, purge old tombstones, receipts and move the horizon.

Pure functions over a connection; server.jobs schedules them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from sync import changelog
from sync.bulk import delete_keys
from sync.store import SyncTables


@dataclass(frozen=True)
class RetentionReport:
    compacted: int
    truncated: int
    tombstones_purged: int
    receipts_purged: int
    horizon: int


def compact_log(conn: sa.Connection, tables: SyncTables, *, older_than: datetime) -> int:
    """Drop superseded changes logged before `older_than` (see changelog.compact)."""
    c = tables.change
    last = conn.execute(sa.select(sa.func.max(c.c.seq)).where(c.c.created_at < older_than)
                        ).scalar()
    return changelog.compact(conn, tables, last) if last else 0


def purge_tombstones(conn: sa.Connection, tables: SyncTables, *, deleted_before: datetime) -> int:
    """Forget deleted records (their sync view and scope keys) deleted before the cutoff.

    The domain rows keep their deleted_at for history; devices stop hearing of them. Run
    with the log truncated at the same cutoff, so no retained cursor predates the purge.
    """
    r, rk = tables.record, tables.record_key
    old = sa.and_(r.c.deleted.is_(True), r.c.updated_at < deleted_before)
    gone = conn.execute(sa.select(r.c.entity, r.c.record_id, r.c.scope).where(old)).all()
    # a record's key rows are the keys its scope lists: each found by its primary key
    delete_keys(conn, (rk.c.key, rk.c.entity, rk.c.record_id),
                ((key, entity, record_id) for entity, record_id, scope in gone
                 for key in scope.split()))
    return conn.execute(r.delete().where(old)).rowcount


def purge_receipts(conn: sa.Connection, tables: SyncTables, *, before: datetime) -> int:
    """Push receipts older than the cutoff (returns how many pushes' receipts, each holding
    the results of its mutations); a replay of those answers `receipt_expired`."""
    rc = tables.receipt
    return conn.execute(rc.delete().where(rc.c.created_at < before)).rowcount


def run_retention(conn: sa.Connection, tables: SyncTables, *, now: datetime,
                  retention: timedelta, compact_after: timedelta,
                  receipt_retention: timedelta) -> RetentionReport:
    """The whole nightly job, in one transaction."""
    cutoff = now - retention
    return RetentionReport(
        compacted=compact_log(conn, tables, older_than=now - compact_after),
        truncated=changelog.truncate_before(conn, tables, cutoff),
        tombstones_purged=purge_tombstones(conn, tables, deleted_before=cutoff),
        receipts_purged=purge_receipts(conn, tables, before=now - receipt_retention),
        horizon=changelog.horizon(conn, tables),
    )
