"""Pull: the changes after a cursor that are in the caller's scope, page by page.

Pulling from no cursor starts with a snapshot of the current state of everything in scope
(not a replay of history); afterwards pages come from the change log. Each change is sent as
the record's current state, so a page never holds more than one entry per record. When the
caller's scope changed since the cursor, records that entered it are sent whole and records
that left it are evicted before the log continues.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

import sqlalchemy as sa

from sync import changelog
from sync.cursor import EVICT, PUT, Cursor, Task, decode, encode
from sync.entities import ALL
from sync.errors import ResetRequired
from sync.protocol import DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, json_string
from sync.store import SyncTables


@dataclass(frozen=True)
class PullPage:
    """`changes` are JSON objects already serialised (see docs/protocol.md)."""

    changes: list[str]
    cursor: str
    more: bool
    phase: str  # "snapshot" while scope tasks run, then "changes"
    progress: dict

    def change_dicts(self) -> list[dict]:
        return [json.loads(c) for c in self.changes]


def pull(conn: sa.Connection, tables: SyncTables, keys: Iterable[str], token: str | None,
         *, secret: bytes, limit: int = DEFAULT_PULL_LIMIT) -> PullPage:
    """One page for a user whose scope keys are `keys`.

    Raises InvalidCursor for a cursor not issued here and ResetRequired when the cursor is
    older than the retained history (the device must pull again from no cursor).
    """
    limit = max(1, min(limit, MAX_PULL_LIMIT))
    scope = frozenset(keys)
    if token is None:
        cursor = Cursor(seq=changelog.head(conn, tables))
    else:
        cursor = decode(token, secret)
        if cursor.seq < changelog.horizon(conn, tables):
            raise ResetRequired("the cursor is older than the retained change history; "
                                "pull again without a cursor", fields={"cursor": ["expired"]})
    cursor = _follow_scope(conn, tables, cursor, scope)
    if cursor.tasks:
        changes, after = _task_page(conn, tables, cursor, scope, limit)
        phase, progress = "snapshot", _progress(cursor, after)
    else:
        changes, after = _log_page(conn, tables, cursor, scope, limit)
        phase, progress = "changes", {"snapshot_total": 0, "snapshot_done": 0}
    more = bool(after.tasks) or bool(after.extra.get("more"))
    return PullPage(changes, encode(after, secret), more, phase, progress)


def _progress(before: Cursor, after: Cursor) -> dict:
    """Snapshot records sent so far out of those due. A page works on the first task only;
    when it finished that task, the task counts as complete."""
    total = done = 0
    for index, task in enumerate(before.tasks):
        if task.mode != PUT:
            continue
        total += task.total
        if index > 0:
            done += task.done
        elif after.tasks[:1] and after.tasks[0].keys == task.keys:
            done += after.tasks[0].done
        else:
            done += task.total
    return {"snapshot_total": total, "snapshot_done": min(done, total)}


def _follow_scope(conn, tables: SyncTables, cursor: Cursor, scope: frozenset) -> Cursor:
    held = frozenset(cursor.keys)
    if held == scope:
        return cursor
    added, removed = scope - held, held - scope
    tasks = []
    for task in cursor.tasks:
        if task.mode == PUT:
            task = replace(task, keys=tuple(k for k in task.keys if k in scope))
        if task.keys:
            tasks.append(task)
    trail, until = cursor.trail, cursor.trail_until
    if removed:
        tasks.append(Task(EVICT, tuple(sorted(removed))))
        trail = tuple(sorted(set(trail) | removed))
        until = max(until, changelog.head(conn, tables))
    if added:
        total = _count(conn, tables, added)
        tasks.append(Task(PUT, tuple(sorted(added)), total=total))
    return replace(cursor, keys=tuple(sorted(scope)), tasks=tuple(tasks), trail=trail,
                   trail_until=until)


def _records_with_keys(tables: SyncTables, keys: Iterable[str]):
    """(entity, record_id) of records carrying any of `keys` (all records for ALL)."""
    keys = list(keys)
    if ALL in keys:
        r = tables.record
        return sa.select(r.c.entity, r.c.record_id)
    rk = tables.record_key
    return sa.select(rk.c.entity, rk.c.record_id).where(rk.c.key.in_(keys)).distinct()


@functools.lru_cache(maxsize=64)
def _snapshot_query(tables: SyncTables, key_count: int | None, resumed: bool) -> sa.Select:
    """The records of the next snapshot page: the first `limit` (entity, record_id) carrying
    any of `key_count` keys (None: all records) after `after` (when `resumed`), one limited
    index range scan per key, merged, joined to their records, in (entity, record_id) order.
    The database orders them: the next page starts after the last row in its collation,
    which need not be Python's string order (en_US ignores "_" at first). Built once per
    shape, like the log's queries: building it costs more than running it."""
    r, rk = tables.record, tables.record_key
    table = r if key_count is None else rk
    parts = [sa.select(table.c.entity, table.c.record_id)]
    if key_count is not None:
        parts = [parts[0].where(rk.c.key == sa.bindparam(f"key_{i}")) for i in range(key_count)]
    if resumed:
        position = sa.tuple_(table.c.entity, table.c.record_id) > sa.tuple_(
            sa.bindparam("after_entity"), sa.bindparam("after_id"))
        parts = [p.where(position) for p in parts]
    limit = sa.bindparam("limit")
    parts = [p.order_by(table.c.entity, table.c.record_id).limit(limit) for p in parts]
    if len(parts) > 1:
        merged = sa.union(*(p.subquery().select() for p in parts)).subquery()
        parts = [sa.select(merged.c.entity, merged.c.record_id)
                 .order_by(merged.c.entity, merged.c.record_id).limit(limit)]
    page = parts[0].subquery()
    return (sa.select(r.c.entity, r.c.record_id, r.c.version, r.c.hlc, r.c.deleted, r.c.scope,
                      r.c.payload)
            .join(page, sa.and_(page.c.entity == r.c.entity, page.c.record_id == r.c.record_id))
            .order_by(r.c.entity, r.c.record_id))


def _snapshot_rows(conn, tables: SyncTables, task: Task, limit: int) -> list:
    """The rows of `_snapshot_query` for `task`, in (entity, record_id) order."""
    keys = None if ALL in task.keys else sorted(task.keys)
    query = _snapshot_query(tables, None if keys is None else len(keys), bool(task.after))
    params = {"limit": limit, **{f"key_{i}": k for i, k in enumerate(keys or ())}}
    if task.after:
        params["after_entity"], params["after_id"] = task.after
    return conn.execute(query, params).all()


def _count(conn, tables: SyncTables, keys) -> int:
    ids = _records_with_keys(tables, keys).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()


def _task_page(conn, tables: SyncTables, cursor: Cursor, scope: frozenset, limit: int):
    task = cursor.tasks[0]
    rows = _snapshot_rows(conn, tables, task, limit)
    changes = _task_changes(task.mode, rows, scope)
    rest = cursor.tasks[1:]
    if len(rows) == limit:
        last = (rows[-1][0], rows[-1][1])
        rest = (replace(task, after=last, done=task.done + len(changes)), *rest)
    # Once the tasks are done the log may hold changes made meanwhile: ask for one more page.
    return changes, replace(cursor, tasks=rest, extra={"more": True})


def _task_changes(mode: str, rows: list, scope: frozenset) -> list[str]:
    """A put of each live record still in scope, or an eviction of each that left it."""
    if mode == PUT:
        return [_put(entity, record_id, version, hlc, payload)
                for entity, record_id, version, hlc, deleted, scope_text, payload in rows
                if not deleted and _visible(scope_text, scope)]
    return [_gone("evict", entity, record_id, version)
            for entity, record_id, version, _, _, scope_text, _ in rows
            if not _visible(scope_text, scope)]


def _log_page(conn, tables: SyncTables, cursor: Cursor, scope: frozenset, limit: int):
    trail = cursor.trail if cursor.seq < cursor.trail_until else ()
    match = None if ALL in scope else scope | set(trail)
    logged = _logged_with_current(conn, tables, cursor.seq, match, limit)
    if not logged:
        return [], replace(cursor, trail=trail, trail_until=cursor.trail_until if trail else 0)
    latest: dict[tuple[str, str], tuple] = {}
    for row in logged:  # a record's latest change (and its current state) comes last
        latest.pop((row[1], row[2]), None)
        latest[(row[1], row[2])] = row
    changes = [_logged_change(row, scope) for row in latest.values()]
    seq = logged[-1][0]
    if trail and seq >= cursor.trail_until:
        trail = ()
    cursor = replace(cursor, seq=seq, trail=trail, trail_until=cursor.trail_until if trail else 0,
                     extra={"more": len(logged) == limit})
    return changes, cursor


def _logged_with_current(conn, tables: SyncTables, after: int, keys, limit: int) -> list:
    """The log page after `after` as (seq, entity, record_id, logged version, then the
    record's current version, hlc, deleted, scope, payload: all None once purged), in seq
    order: the changes and the records they name in one query, each row found by key."""
    keys = None if keys is None else sorted(keys)
    if keys == []:
        return []
    query = _log_query(tables, None if keys is None else len(keys))
    return conn.execute(query, changelog.seqs_after_params(after, keys, limit)).all()


@functools.lru_cache(maxsize=64)
def _log_query(tables: SyncTables, key_count: int | None) -> sa.Select:
    seqs = changelog.seqs_after(tables, key_count)
    c, r = tables.change, tables.record
    on = sa.and_(r.c.entity == c.c.entity, r.c.record_id == c.c.record_id)
    return (sa.select(c.c.seq, c.c.entity, c.c.record_id, c.c.version, r.c.version, r.c.hlc,
                      r.c.deleted, r.c.scope, r.c.payload)
            .select_from(c.outerjoin(r, on))
            .where(c.c.seq.in_(seqs.scalar_subquery())).order_by(c.c.seq))


def _logged_change(row, scope: frozenset) -> str:
    _, entity, record_id, logged_version, version, hlc, deleted, scope_text, payload = row
    if version is None:  # purged tombstone
        return _gone("delete", entity, record_id, logged_version)
    if not _visible(scope_text, scope):
        return _gone("evict", entity, record_id, version)
    if deleted:
        return _gone("delete", entity, record_id, version)
    return _put(entity, record_id, version, hlc, payload)


def _visible(scope_text: str, scope: frozenset) -> bool:
    return ALL in scope or not scope.isdisjoint(scope_text.split())


def _put(entity: str, record_id: str, version: int, hlc: str, payload: str) -> str:
    return (f'{{"op":"put","entity":"{entity}","id":"{record_id}","version":{version},'
            f'"hlc":{json_string(hlc)},"data":{payload}}}')


def _gone(op: str, entity: str, record_id: str, version: int) -> str:
    return f'{{"op":"{op}","entity":"{entity}","id":"{record_id}","version":{version}}}'
