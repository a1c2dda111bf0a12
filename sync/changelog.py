"""The append-only change log: append in commit order, read after a cursor, compact.

Ordering: on PostgreSQL a sequence number taken earlier can commit later, so a reader could
move its cursor past a change that is not visible yet. Appends therefore take a
transaction-level advisory lock right before inserting, and keep it until commit: sequence
order is commit order, and "every row up to the highest visible seq is committed" holds.
Appends are buffered until the end of a push so the lock is held only for the inserts and
the commit. SQLite already serialises writers (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.bulk import MAX_PARAMETERS, delete_keys, insert_ctes, insert_rows, takes_values_lists
from sync.records import ChangeEntry
from sync.store import SyncTables

APPEND_LOCK_ID = 0x46534C47  # "FSLG": one advisory lock id for the whole log
HORIZON = "horizon"
TRUNCATE_CHUNK = 5000  # changes read per step of truncate_before


@dataclass(frozen=True)
class LoggedChange:
    seq: int
    entity: str
    record_id: str
    version: int
    deleted: bool
    keys: frozenset[str]


def append(conn: sa.Connection, tables: SyncTables, entries: Sequence[ChangeEntry]) -> list[int]:
    """Append entries in order; returns their sequence numbers. Call last in a transaction."""
    if not entries:
        return []
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
    return _append_numbered(conn, tables, entries)


def _append_numbered(conn: sa.Connection, tables: SyncTables,
                     entries: Sequence[ChangeEntry]) -> list[int]:
    """Number `entries` after the head of the log and insert them with their keys. Under the
    append lock (or SQLite's write lock) nobody else appends, so the next numbers are ours to
    take: no RETURNING round trip per row."""
    if takes_values_lists(conn.dialect):
        return [seq for part in _statement_parts(entries, len(tables.change.columns))
                for seq in _append_in_one_statement(conn, tables, part)]
    return _append_numbered_rows(conn, tables, entries, head(conn, tables) + 1)


def _append_numbered_rows(conn: sa.Connection, tables: SyncTables,
                          entries: Sequence[ChangeEntry], first: int) -> list[int]:
    seqs = list(range(first, first + len(entries)))
    insert_rows(conn, tables.change, _change_rows(entries, seqs))
    insert_rows(conn, tables.change_key, _key_rows(entries, seqs))
    return seqs


def _change_rows(entries: Sequence[ChangeEntry], seqs: Iterable[int]) -> list[dict]:
    return [
        {"seq": seq, "entity": e.entity, "record_id": e.record_id, "version": e.version,
         "deleted": e.deleted, "scope_keys": " ".join(sorted(e.keys)), "device_id": e.device_id,
         "created_at": e.created_at}
        for seq, e in zip(seqs, entries, strict=True)
    ]


def _key_rows(entries: Sequence[ChangeEntry], seqs: Iterable[int]) -> list[dict]:
    return [{"key": k, "seq": seq} for seq, e in zip(seqs, entries, strict=True)
            for k in sorted(e.keys)]


def _statement_parts(entries: Sequence[ChangeEntry], columns: int
                     ) -> Iterable[Sequence[ChangeEntry]]:
    """`entries` in runs that each fit one statement's parameters: `columns` per change
    and two per key."""
    start, used = 0, 0
    for index, e in enumerate(entries):
        cost = columns + 2 * len(e.keys)
        if used + cost > MAX_PARAMETERS and index > start:
            yield entries[start:index]
            start, used = index, 0
        used += cost
    if start < len(entries):
        yield entries[start:]


def _append_in_one_statement(conn: sa.Connection, tables: SyncTables,
                             entries: Sequence[ChangeEntry]) -> list[int]:
    """PostgreSQL: read the head of the log and insert the changes and their keys in one
    statement (data-modifying CTEs), numbering each row by its offset from that head. The
    append lock is then held across this one round trip and the commit, not three round
    trips and the commit: every round trip under the lock is one that every other writer
    waits for. The statement's snapshot is taken after the lock (the statement before) is
    held, so the head it reads is the latest."""
    offsets = range(1, len(entries) + 1)
    quote = conn.dialect.identifier_preparer.quote
    inserts, values = insert_ctes(
        conn, [("changes", tables.change, _change_rows(entries, offsets)),
               ("keys", tables.change_key, _key_rows(entries, offsets))],
        select={"seq": "v.seq + head.top"}, joined=" CROSS JOIN head")
    head_cte = f"head AS ({_HEAD_SQL})".format(change=quote(tables.change.name),
                                               meta=quote(tables.meta.name))
    top = conn.exec_driver_sql(f"WITH {', '.join([head_cte, *inserts])} SELECT top FROM head",
                               (HORIZON, *values)).scalar_one()
    return list(range(top + 1, top + 1 + len(entries)))


# The head of the log as `head`: the top seq, never below the compaction horizon.
_HEAD_SQL = ("SELECT greatest(coalesce((SELECT max(seq) FROM {change}), 0), "
             "coalesce((SELECT value FROM {meta} WHERE name = %s), 0)) AS top")


def head(conn: sa.Connection, tables: SyncTables) -> int:
    """The highest committed sequence number (never below the compaction horizon)."""
    top, floor = conn.execute(_head_query(tables)).one()
    return max(top or 0, floor or 0)


@functools.lru_cache(maxsize=64)
def _head_query(tables: SyncTables) -> sa.Select:
    """The log's top and the horizon in one statement. (An append on PostgreSQL reads them
    inside its insert statement instead, _HEAD_SQL.)"""
    return sa.select(sa.select(sa.func.max(tables.change.c.seq)).scalar_subquery(),
                     horizon_query(tables).scalar_subquery())


def horizon(conn: sa.Connection, tables: SyncTables) -> int:
    """Changes at or below this seq may have been compacted away."""
    return conn.execute(horizon_query(tables)).scalar() or 0


@functools.lru_cache(maxsize=64)
def horizon_query(tables: SyncTables) -> sa.Select:
    """The horizon's row (none before the first truncation): see `horizon`."""
    return sa.select(tables.meta.c.value).where(tables.meta.c.name == HORIZON)


def read_after(conn: sa.Connection, tables: SyncTables, after: int, keys: Iterable[str] | None,
               limit: int) -> list[LoggedChange]:
    """Up to `limit` changes after `after` that carry any of `keys` (None: all), in order.

    One index range scan per key, each limited, so the cost follows the rows returned and
    not the size of the log.
    """
    keys = None if keys is None else sorted(keys)
    if keys == []:
        return []
    c = tables.change
    seqs = seqs_after(tables, None if keys is None else len(keys))
    rows = conn.execute(
        sa.select(c.c.seq, c.c.entity, c.c.record_id, c.c.version, c.c.deleted, c.c.scope_keys)
        .where(c.c.seq.in_(seqs.scalar_subquery())).order_by(c.c.seq),
        seqs_after_params(after, keys, limit),
    )
    return [LoggedChange(r.seq, r.entity, r.record_id, r.version, r.deleted,
                         frozenset(r.scope_keys.split())) for r in rows]


@functools.lru_cache(maxsize=64)
def seqs_after(tables: SyncTables, key_count: int | None) -> sa.Select:
    """A query for the first `limit` sequence numbers after `after` of changes carrying any
    of `key_count` keys (None: all), one limited index range scan per key; bind it with
    `seqs_after_params`. Built once per shape: building it costs more than running it."""
    c, ck = tables.change, tables.change_key
    after, limit = sa.bindparam("after"), sa.bindparam("limit")
    if key_count is None:
        return sa.select(c.c.seq).where(c.c.seq > after).order_by(c.c.seq).limit(limit)
    parts = [
        sa.select(ck.c.seq).where(ck.c.key == sa.bindparam(f"key_{i}"), ck.c.seq > after)
        .order_by(ck.c.seq).limit(limit).subquery().select()
        for i in range(key_count)
    ]
    union = sa.union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return sa.select(union.c.seq).order_by(union.c.seq).limit(limit)


def seqs_after_params(after: int, keys: Sequence[str] | None, limit: int) -> dict:
    return {"after": after, "limit": limit, **{f"key_{i}": k for i, k in enumerate(keys or ())}}


def set_horizon(conn: sa.Connection, tables: SyncTables, seq: int) -> None:
    m = tables.meta
    updated = conn.execute(m.update().where(m.c.name == HORIZON, m.c.value < seq).values(value=seq))
    if updated.rowcount == 0 and horizon(conn, tables) == 0 and seq > 0:
        conn.execute(m.insert().values(name=HORIZON, value=seq))


def truncate_before(conn: sa.Connection, tables: SyncTables, cutoff: datetime) -> int:
    """Delete changes older than `cutoff` and move the horizon past them.

    Devices whose cursor is below the new horizon must reset. Returns rows deleted.
    """
    c = tables.change
    last = conn.execute(sa.select(sa.func.max(c.c.seq)).where(c.c.created_at < cutoff)).scalar()
    if last is None:
        return 0
    after = 0
    while True:  # a few thousand changes at a time: the first truncation may meet millions
        rows = conn.execute(sa.select(c.c.seq, c.c.scope_keys)
                            .where(c.c.seq > after, c.c.seq <= last)
                            .order_by(c.c.seq).limit(TRUNCATE_CHUNK)).all()
        if not rows:
            break
        _delete_key_rows(conn, tables, rows)
        after = rows[-1].seq
    deleted = conn.execute(c.delete().where(c.c.seq <= last)).rowcount
    set_horizon(conn, tables, last)
    return deleted


def _delete_key_rows(conn: sa.Connection, tables: SyncTables, changes) -> None:
    """Delete the key rows of `changes` ((seq, scope_keys) rows): a change's keys are its
    scope_keys, so each key row is found by its primary key (sync_change_key has no other
    index: every push writes to it, and only these deletes look rows up by seq)."""
    ck = tables.change_key
    delete_keys(conn, (ck.c.key, ck.c.seq),
                ((key, seq) for seq, keys in changes for key in keys.split()))


def compact(conn: sa.Connection, tables: SyncTables, before_seq: int) -> int:
    """Drop changes at or below `before_seq` that a later change of the same record supersedes.

    A pull serves each record's current state, so only a record's latest change is needed;
    the dropped changes' scope keys are folded into that latest change so a device that
    could see the record before it moved still receives its eviction. Returns rows dropped.
    """
    c = tables.change
    later = c.alias("later")
    superseded = conn.execute(
        sa.select(c.c.seq, c.c.scope_keys, sa.func.max(later.c.seq).label("latest"))
        .join(later, sa.and_(later.c.entity == c.c.entity, later.c.record_id == c.c.record_id,
                             later.c.seq > c.c.seq))
        .where(c.c.seq <= before_seq)
        .group_by(c.c.seq, c.c.scope_keys)
    ).all()
    if not superseded:
        return 0
    folded: dict[int, set[str]] = {}
    for row in superseded:
        folded.setdefault(row.latest, set()).update(row.scope_keys.split())
    for latest, keys in folded.items():
        _add_keys_to(conn, tables, latest, keys)
    _delete_key_rows(conn, tables, [(row.seq, row.scope_keys) for row in superseded])
    dropped = [row.seq for row in superseded]
    for start in range(0, len(dropped), 500):
        conn.execute(c.delete().where(c.c.seq.in_(dropped[start:start + 500])))
    return len(dropped)


def _add_keys_to(conn: sa.Connection, tables: SyncTables, seq: int, keys: set[str]) -> None:
    c, ck = tables.change, tables.change_key
    current = conn.execute(sa.select(c.c.scope_keys).where(c.c.seq == seq)).scalar_one()
    have = set(current.split())
    missing = keys - have
    if not missing:
        return
    conn.execute(c.update().where(c.c.seq == seq)
                 .values(scope_keys=" ".join(sorted(have | missing))))
    conn.execute(ck.insert(), [{"key": k, "seq": seq} for k in sorted(missing)])
