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
from sync.protocol import DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, PULL_PAGE_BYTES, json_string
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
         *, secret: bytes, limit: int = DEFAULT_PULL_LIMIT,
         max_bytes: int = PULL_PAGE_BYTES) -> PullPage:
    """One page for a user whose scope keys are `keys`: at most `limit` changes, and no
    more once their records' data passes `max_bytes` (at least one change: every page makes
    progress).

    Raises InvalidCursor for a cursor not issued here and ResetRequired when the cursor is
    older than the retained history (the device must pull again from no cursor).
    """
    limit = max(1, min(limit, MAX_PULL_LIMIT))
    scope = frozenset(keys)
    # A cursor below the horizon may have missed changes truncated away: the device resets.
    # In the log phase the horizon is read with the page (on PostgreSQL in its statement).
    cursor = Cursor(seq=changelog.head(conn, tables)) if token is None else decode(token, secret)
    cursor = _follow_scope(conn, tables, cursor, scope)
    if cursor.tasks:
        if token is not None:
            _check_horizon(cursor, changelog.horizon(conn, tables))
        changes, after = _task_page(conn, tables, cursor, scope, limit, max_bytes)
        phase, progress = "snapshot", _progress(cursor, after)
    else:
        changes, after = _log_page(conn, tables, cursor, scope, limit, max_bytes,
                                   check=token is not None)
        phase, progress = "changes", {"snapshot_total": 0, "snapshot_done": 0}
    more = bool(after.tasks) or bool(after.extra.get("more"))
    return PullPage(changes, encode(after, secret), more, phase, progress)


def _check_horizon(cursor: Cursor, horizon: int) -> None:
    if cursor.seq < horizon:
        raise ResetRequired("the cursor is older than the retained change history; "
                            "pull again without a cursor", fields={"cursor": ["expired"]})


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
            task = _narrowed(task, scope)
        if task is not None and task.keys:
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


def _narrowed(task: Task, scope: frozenset) -> Task | None:
    """A snapshot task without the keys that left the scope meanwhile (None: nothing left to
    sweep). When the key being swept left, the sweep goes on with the next key kept."""
    keys = _task_keys(task)
    kept = tuple(k for k in keys if k in scope)
    current = keys[task.key] if task.key < len(keys) else None
    if current in kept:
        return replace(task, keys=kept, key=kept.index(current))
    index = sum(1 for k in keys[:task.key] if k in scope)
    if index >= len(kept):
        return None
    return replace(task, keys=kept, key=index, after=None)


def _records_with_keys(tables: SyncTables, keys: Iterable[str]):
    """(entity, record_id) of records carrying any of `keys` (all records for ALL)."""
    keys = list(keys)
    if ALL in keys:
        r = tables.record
        return sa.select(r.c.entity, r.c.record_id)
    rk = tables.record_key
    return sa.select(rk.c.entity, rk.c.record_id).where(rk.c.key.in_(keys)).distinct()


@functools.lru_cache(maxsize=64)
def _snapshot_query(tables: SyncTables, dialect: str, every_record: bool,
                    resumed: bool) -> sa.Select:
    """The next `limit` records carrying the key `key` (with `every_record`: all records)
    after (`after_entity`, `after_id`) when `resumed`, in (entity, record_id) order: one
    limited index range scan, each row joined to its record.

    On SQLite a plain join does that and returns the rows as the key index gives them, with
    nothing merged or sorted. PostgreSQL's planner may instead join whole tables when the
    key holds many records (a hash join over every record), so there the limited scan is a
    subquery of its own, which keeps the join to `limit` rows.

    The database orders the rows: the next page starts after the last row in its collation,
    which need not be Python's string order (en_US ignores "_" at first). Built once per
    shape, like the log's queries: building it costs more than running it."""
    r, rk = tables.record, tables.record_key
    columns = (r.c.entity, r.c.record_id, r.c.version, r.c.hlc, r.c.deleted, r.c.scope,
               r.c.payload)
    table = r if every_record else rk
    position = (table.c.entity, table.c.record_id)
    if every_record:
        query = sa.select(*columns)
    else:
        query = (sa.select(*columns if dialect == "sqlite" else position)
                 .where(rk.c.key == sa.bindparam("key")))
        if dialect == "sqlite":
            query = query.select_from(rk.join(r, sa.and_(r.c.entity == rk.c.entity,
                                                         r.c.record_id == rk.c.record_id)))
    if resumed:
        query = query.where(sa.tuple_(*position) > sa.tuple_(sa.bindparam("after_entity"),
                                                             sa.bindparam("after_id")))
    query = query.order_by(*position).limit(sa.bindparam("limit"))
    if every_record or dialect == "sqlite":
        return query
    page = query.subquery()
    on = sa.and_(r.c.entity == page.c.entity, r.c.record_id == page.c.record_id)
    return (sa.select(*columns).select_from(page.join(r, on))
            .order_by(page.c.entity, page.c.record_id))


def _task_keys(task: Task) -> tuple[str, ...]:
    """The keys a task sweeps, one after the other: ALL alone covers every record."""
    return (ALL,) if ALL in task.keys else tuple(sorted(task.keys))


def _snapshot_rows(conn, tables: SyncTables, task: Task, limit: int) -> list:
    """Up to `limit` rows of `_snapshot_query` for the task's current key, after its
    position."""
    key = _task_keys(task)[task.key]
    query = _snapshot_query(tables, conn.dialect.name, key == ALL, bool(task.after))
    params = {"limit": limit, "key": key}
    if task.after:
        params["after_entity"], params["after_id"] = task.after
    return conn.execute(query, params).all()


def _count(conn, tables: SyncTables, keys) -> int:
    ids = _records_with_keys(tables, keys).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()


def _task_page(conn, tables: SyncTables, cursor: Cursor, scope: frozenset, limit: int,
               max_bytes: int):
    """Up to `limit` records of the first task, its keys swept one after the other: a record
    carrying several of them is handled in the sweep of the first (a later sweep skips it).
    The page goes on with the task's next key when one is done, and stops early once the
    records read pass `max_bytes`."""
    task, changes, fetched = cursor.tasks[0], [], []
    keys = _task_keys(task)
    budget = _Budget(max_bytes)
    while True:
        rows = budget.take(_snapshot_rows(conn, tables, task, limit - len(fetched)), 6)
        # within a page a later sweep skips what an earlier one read (on PostgreSQL each
        # query sees its own snapshot: a record may have lost the earlier key meanwhile)
        page_ids = {(row[0], row[1]) for row in fetched} if fetched else None
        changes += _task_changes(task.mode, rows, scope, frozenset(keys[:task.key]), page_ids)
        fetched += rows
        if rows and (len(fetched) == limit or budget.spent):  # resume after the last row
            task = replace(task, after=(rows[-1][0], rows[-1][1]))
            break
        if budget.spent:  # not one row of this key fitted: the next page starts it
            break
        if task.key + 1 == len(keys):
            task = None
            break
        task = replace(task, key=task.key + 1, after=None)
        if len(fetched) == limit:
            break
    rest = cursor.tasks[1:]
    if task is not None:
        rest = (replace(task, done=cursor.tasks[0].done + len(changes)), *rest)
    # Once the tasks are done the log may hold changes made meanwhile: ask for one more page.
    return changes, replace(cursor, tasks=rest, extra={"more": True})


class _Budget:
    """The bytes a page may still take: the records' data, as UTF-8, which is most of a
    page (a few dozen bytes of envelope per change are not counted)."""

    def __init__(self, max_bytes: int):
        self.left, self.taken, self.spent = max_bytes, 0, False

    def take(self, rows: list, payload_at: int) -> list:
        """The first of `rows` that fit (at least one on a page that has none yet); `spent`
        once some did not. A row whose payload is None (a purged record) costs nothing."""
        for index, row in enumerate(rows):
            payload = row[payload_at]
            size = 0 if payload is None else (
                len(payload) if payload.isascii() else len(payload.encode()))
            if size > self.left and self.taken:
                self.spent = True
                return rows[:index]
            self.left -= size
            self.taken += 1
        return rows


def _task_changes(mode: str, rows: list, scope: frozenset, swept: frozenset,
                  page_ids: set | None) -> list[str]:
    """A put of each live record still in scope, or an eviction of each that left it; not
    of records carrying a key swept before (`swept`), nor of those the page holds already
    (`page_ids`)."""
    every = ALL in scope
    if mode == PUT and not swept and not page_ids:  # most pages: one sweep, its first key
        return [_put(entity, record_id, version, hlc, payload)
                for entity, record_id, version, hlc, deleted, scope_text, payload in rows
                if not deleted and (every or not scope.isdisjoint(scope_text.split()))]
    changes = []
    for entity, record_id, version, hlc, deleted, scope_text, payload in rows:
        keys = scope_text.split()
        if not swept.isdisjoint(keys) or (page_ids and (entity, record_id) in page_ids):
            continue
        visible = every or not scope.isdisjoint(keys)
        if mode == PUT and visible and not deleted:
            changes.append(_put(entity, record_id, version, hlc, payload))
        elif mode != PUT and not visible:
            changes.append(_gone("evict", entity, record_id, version))
    return changes


def _log_page(conn, tables: SyncTables, cursor: Cursor, scope: frozenset, limit: int,
              max_bytes: int, *, check: bool):
    """The changes after the cursor, and the cursor after them; with `check`, first
    ResetRequired if the cursor is below the horizon."""
    trail = cursor.trail if cursor.seq < cursor.trail_until else ()
    match = None if ALL in scope else scope | set(trail)
    horizon, logged = _logged_with_current(conn, tables, cursor.seq, match, limit)
    if check:
        _check_horizon(cursor, horizon)
    if not logged:
        return [], replace(cursor, trail=trail, trail_until=cursor.trail_until if trail else 0)
    budget = _Budget(max_bytes)
    firsts = _first_of_each_record(logged)
    kept = budget.take([logged[i] for i in firsts], 8)
    if budget.spent:  # the page ends before the first change of the record that did not fit
        logged = logged[:firsts[len(kept)]]
    latest: dict[tuple[str, str], tuple] = {}
    for row in logged:  # a record's latest change (and its current state) comes last
        latest.pop((row[1], row[2]), None)
        latest[(row[1], row[2])] = row
    changes = [_logged_change(row, scope) for row in latest.values()]
    seq = logged[-1][0]
    if trail and seq >= cursor.trail_until:
        trail = ()
    cursor = replace(cursor, seq=seq, trail=trail, trail_until=cursor.trail_until if trail else 0,
                     extra={"more": len(logged) == limit or budget.spent})
    return changes, cursor


def _first_of_each_record(logged: list) -> list[int]:
    """The positions of the log rows that name a record for the first time on the page: a
    record's state is sent once, however often it changed."""
    seen: set = set()
    firsts = []
    for index, row in enumerate(logged):
        if (row[1], row[2]) not in seen:
            seen.add((row[1], row[2]))
            firsts.append(index)
    return firsts


def _logged_with_current(conn, tables: SyncTables, after: int, keys, limit: int
                         ) -> tuple[int, list]:
    """The horizon, and the log page after `after` as (seq, entity, record_id, logged
    version, then the record's current version, hlc, deleted, scope, payload: all None once
    purged), in seq order: the changes and the records they name in one query, each row
    found by key. On PostgreSQL the horizon comes in the same query (a round trip saved);
    SQLite has no round trip to save, and there the joined form would sort the page again."""
    keys = None if keys is None else sorted(keys)
    if keys == []:
        return changelog.horizon(conn, tables), []
    params = changelog.seqs_after_params(after, keys, limit)
    count = None if keys is None else len(keys)
    if conn.dialect.name != "postgresql":
        return changelog.horizon(conn, tables), conn.execute(_log_query(tables, count),
                                                             params).all()
    rows = conn.execute(_log_query_with_horizon(tables, count), params).all()
    # One row even for an empty page: the horizon, with nothing joined to it.
    return rows[0][0] or 0, [row[1:] for row in rows if row[1] is not None]


@functools.lru_cache(maxsize=64)
def _log_query(tables: SyncTables, key_count: int | None) -> sa.Select:
    seqs = changelog.seqs_after(tables, key_count)
    c, r = tables.change, tables.record
    on = sa.and_(r.c.entity == c.c.entity, r.c.record_id == c.c.record_id)
    return (sa.select(c.c.seq, c.c.entity, c.c.record_id, c.c.version.label("logged_version"),
                      r.c.version, r.c.hlc, r.c.deleted, r.c.scope, r.c.payload)
            .select_from(c.outerjoin(r, on))
            .where(c.c.seq.in_(seqs.scalar_subquery())).order_by(c.c.seq))


@functools.lru_cache(maxsize=64)
def _log_query_with_horizon(tables: SyncTables, key_count: int | None) -> sa.Select:
    """The horizon, left-joined with `_log_query`'s rows."""
    page = _log_query(tables, key_count).order_by(None).subquery("page")
    horizon = sa.select(changelog.horizon_query(tables).scalar_subquery().label("horizon")
                        ).subquery("h")
    return (sa.select(horizon.c.horizon, *page.c)
            .select_from(horizon.outerjoin(page, sa.true())).order_by(page.c.seq))


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
