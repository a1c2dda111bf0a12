"""The devices as the office watches them: last sighting, last push and pull, how many
changes wait for them (backlog), and recent rejections; and the day's counts for Today.

The engine records each stream's last push (sync_device.last_push_at). Its last pull and
pull position (last_pull_at, last_pull_seq) have columns but nothing writes them yet: until
the pull path records them, pull times and backlogs show as unknown, and "synced" counts a
device's last authenticated request (every pull is one) or push."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from server.domain.scopes import user_keys
from server.domain.vocabulary import OrderStatus, WorkOrderStatus
from server.models import SYNC_TABLES, Device, Order, User, WorkOrder
from sync.entities import ALL

BACKLOG_CAP = 10_000  # counted up to here: "10000+" says enough, and stays cheap
FAR_BEHIND = 1_000
ERROR_WINDOW = timedelta(days=1)
DONE = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED, WorkOrderStatus.CANCELLED)


def device_rows(conn: sa.Connection, now: datetime) -> list[dict]:
    """Every device with its owner, sync times, backlog and rejections of the last day."""
    rows = conn.execute(
        sa.select(Device.id, Device.name, Device.last_seen_at, Device.revoked_at,
                  Device.stream_id, User.id.label("user_id"), User.name.label("user"),
                  User.role)
        .join(User, User.id == Device.user_id).order_by(User.name, Device.name)).all()
    positions = _positions(conn, {row.stream_id for row in rows})
    keys: dict[str, frozenset[str]] = {}
    errors = _recent_errors(conn, now)
    result = []
    for row in rows:
        position = positions.get(row.stream_id, {})
        if row.user_id not in keys:
            keys[row.user_id] = user_keys(conn, row.user_id, str(row.role))
        pulled = position.get("last_pull_seq")
        backlog = (None if row.revoked_at or pulled is None else
                   _backlog(conn, keys[row.user_id], pulled))
        shared = errors.get(row.stream_id, 0) if row.stream_id != row.id else 0
        result.append({**row._asdict(), "backlog": backlog,
                       "last_push_at": position.get("last_push_at"),
                       "last_pull_at": position.get("last_pull_at"),
                       "errors": errors.get(row.id, 0) + shared})
    return result


def _positions(conn: sa.Connection, streams: set[str]) -> dict[str, dict]:
    """The engine's sync_device rows by stream id (its ids are text, the device's a UUID
    column: matched here rather than joined, which would compare unlike types)."""
    s = SYNC_TABLES.device
    if not streams:
        return {}
    found = conn.execute(sa.select(s).where(s.c.device_id.in_(sorted(streams))))
    return {row.device_id: row._asdict() for row in found}


def today_counts(conn: sa.Connection, devices: list[dict], now: datetime) -> dict[str, int]:
    """What the Today page shows, as numbers."""
    live = [d for d in devices if d["revoked_at"] is None]
    c, r = SYNC_TABLES.conflict, SYNC_TABLES.rejection
    return {
        "synced_hour": sum(1 for d in live if _synced_since(d, now - timedelta(hours=1))),
        "synced_day": sum(1 for d in live if _synced_since(d, now - timedelta(days=1))),
        "failing": sum(1 for d in live if d["errors"]),
        "behind": sum(1 for d in live if (d["backlog"] or 0) >= FAR_BEHIND),
        "open_conflicts": _count(conn, c, c.c.status == "open"),
        "rejections_day": _count(conn, r, r.c.created_at >= now - ERROR_WINDOW),
        "awaiting_approval": _count(conn, Order.__table__, Order.status == OrderStatus.SUBMITTED,
                                    Order.deleted_at.is_(None)),
        "past_due": _count(conn, WorkOrder.__table__, WorkOrder.due_at < now,
                           WorkOrder.status.not_in(DONE), WorkOrder.deleted_at.is_(None)),
    }


def _backlog(conn: sa.Connection, keys: frozenset[str], after: int) -> int:
    ch, ck = SYNC_TABLES.change, SYNC_TABLES.change_key
    if ALL in keys:
        seqs = sa.select(ch.c.seq).where(ch.c.seq > after)
    else:
        seqs = sa.select(ck.c.seq).where(ck.c.key.in_(sorted(keys)), ck.c.seq > after).distinct()
    capped = seqs.limit(BACKLOG_CAP).subquery()
    return conn.scalar(sa.select(sa.func.count()).select_from(capped))


def _recent_errors(conn: sa.Connection, now: datetime) -> dict[str, int]:
    r = SYNC_TABLES.rejection
    rows = conn.execute(sa.select(r.c.device_id, sa.func.count()).where(
        r.c.created_at >= now - ERROR_WINDOW).group_by(r.c.device_id))
    return {device: n for device, n in rows}


def _synced_since(device: dict, since: datetime) -> bool:
    return any(t is not None and t >= since
               for t in (device["last_push_at"], device["last_pull_at"],
                         device["last_seen_at"]))


def _count(conn: sa.Connection, table: sa.Table, *where) -> int:
    return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))
