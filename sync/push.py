"""Push: apply a device's batch exactly once, in one transaction, answering per mutation.

The device's receipt stream (Actor.stream: devices of one installation share one) is locked
first, so two deliveries of the same batch (a retry racing the original) run one after the
other; mutations at or below the stream's last handled id are answered from the stored
receipts and applied nothing twice. A push's receipt is one row holding the results of all
the mutations it handled, and their fingerprints: a replay is answered from a receipt only
when it is the mutation that was handled under its id.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError

from sync import changelog
from sync.apply import Applier, Outcome, Postpone
from sync.bulk import EncodedJSON, insert_ctes, insert_rows, takes_values_lists, values_list
from sync.entities import Actor, Registry
from sync.errors import InvalidRequest, MutationRejected
from sync.hlc import Clock
from sync.ids import new_id
from sync.protocol import MAX_PUSH_MUTATIONS, ErrorInfo, Mutation, MutationResult, Status
from sync.sqltypes import utcnow
from sync.store import SyncTables

# What the database may refuse that validation did not foresee (a unique value taken, a value
# too long for its column on PostgreSQL): the mutation is rejected, not the batch. SQLite's
# driver refuses an integer beyond 64 bits with a bare OverflowError while binding it.
DB_REFUSALS = (IntegrityError, DataError, OverflowError)


def push(conn: sa.Connection, tables: SyncTables, registry: Registry, actor: Actor,
         mutations: Sequence[Mutation], *, clock: Clock,
         now: datetime | None = None) -> list[MutationResult]:
    """Apply `mutations` from `actor.device_id`; returns one result per mutation, in order.

    Raises InvalidRequest when the batch itself is malformed (nothing is applied then).
    Must run inside a write transaction (sync.database.write_transaction).
    """
    return [result for result, _ in _push(conn, tables, registry, actor, mutations,
                                          clock=clock, now=now)]


def push_json(conn: sa.Connection, tables: SyncTables, registry: Registry, actor: Actor,
              mutations: Sequence[Mutation], *, clock: Clock,
              now: datetime | None = None) -> list[str]:
    """`push`, answering each result as its wire JSON: the text stored in the receipt, which
    splices in the record's data as encoded for the sync view. A result is encoded once,
    not once for the receipt and again for the answer."""
    return [text or result.to_json() for result, text in _push(
        conn, tables, registry, actor, mutations, clock=clock, now=now)]


def _push(conn, tables, registry, actor, mutations, *, clock, now):
    """(result, its JSON or None) per mutation."""
    _check_batch(mutations)
    now = now or utcnow()
    last = _lock_device(conn, tables, actor.stream, now)
    replayed = _receipts(conn, tables, actor.stream,
                         [m for m in mutations if m.mutation_id <= last])
    fresh = [m for m in mutations if m.mutation_id > last]
    outcomes, payloads = _apply_fresh(conn, tables, registry, actor, fresh, clock, now)
    texts = _finish(conn, tables, actor, fresh, outcomes, payloads, now) if fresh else []
    answered = {o.result.mutation_id: (o.result, text)
                for o, text in zip(outcomes, texts, strict=True)}
    return [answered.get(m.mutation_id) or (replayed[m.mutation_id], None) for m in mutations]


def _apply_fresh(conn, tables, registry, actor, fresh, clock, now):
    """Fast path: apply in memory, write in bulk. A database constraint that validation did
    not foresee fails the bulk write; then the batch is redone one savepoint per mutation so
    only the offending mutations are rejected. Returns the outcomes and the encoded data of
    the records written ((entity, id) -> (version, JSON))."""
    savepoint = conn.begin_nested()
    try:
        applier = Applier(conn, tables, registry, actor, clock=clock, now=now)
        outcomes = apply_batch(applier, fresh)
        applier.store.flush()
    except DB_REFUSALS:
        savepoint.rollback()
        applier = Applier(conn, tables, registry, actor, clock=clock, now=now)
        outcomes = apply_batch(applier, fresh, one_by_one=True)
        return outcomes, applier.store.payloads
    savepoint.commit()
    return outcomes, applier.store.payloads


def apply_batch(applier: Applier, mutations: Sequence[Mutation], *,
                one_by_one: bool = False) -> list[Outcome]:
    """Apply in order; a mutation that needs a record created later in the batch waits.

    Waiting mutations are retried after each pass; once a pass makes no progress the rest
    are applied without waiting and so rejected for their missing reference. With
    `one_by_one`, each mutation is written under its own savepoint.
    """
    applier.pending_creates = {(m.entity, m.record_id) for m in mutations if m.op == "create"}
    # A record created here that exists after all fails the bulk write: the batch is then
    # applied one by one (_apply_fresh), looking the records up, and that create rejected.
    applier.prefetch(mutations, look_up_creates=one_by_one)
    outcomes: dict[int, Outcome] = {}
    queue, may_postpone = list(mutations), True
    while queue:
        waiting = []
        for m in queue:
            outcome = _apply_one(applier, m, may_postpone, one_by_one)
            if outcome is None:
                waiting.append(m)
            else:
                outcomes[m.mutation_id] = outcome
        may_postpone = len(waiting) < len(queue)
        queue = waiting
    return [outcomes[m.mutation_id] for m in mutations]


def _apply_one(applier: Applier, m: Mutation, may_postpone: bool,
               one_by_one: bool) -> Outcome | None:
    store = applier.store
    savepoint = applier.conn.begin_nested() if one_by_one else None
    store.begin()
    try:
        outcome = applier.apply(m, may_postpone=may_postpone)
        if one_by_one:
            store.flush()
    except (Postpone, MutationRejected, *DB_REFUSALS) as exc:
        if savepoint is not None:
            savepoint.rollback()
        store.rollback()
        if isinstance(exc, Postpone):
            return None
        if isinstance(exc, MutationRejected):
            return _rejected(m, exc.code, exc.message, exc.fields)
        return _rejected(m, "integrity_error", "the record breaks a database constraint",
                         {"_record": [str(getattr(exc, "orig", exc)).splitlines()[0]]})
    if savepoint is not None:
        savepoint.commit()
    store.commit()
    return outcome


def _rejected(m: Mutation, code: str, message: str, fields) -> Outcome:
    error = ErrorInfo(code, message, fields or {})
    return Outcome(MutationResult(m.mutation_id, Status.REJECTED, m.entity, m.record_id,
                                  error=error))


def _check_batch(mutations: Sequence[Mutation]) -> None:
    if len(mutations) > MAX_PUSH_MUTATIONS:
        raise InvalidRequest(f"a batch holds at most {MAX_PUSH_MUTATIONS} mutations",
                             fields={"mutations": ["too many"]})
    previous = 0
    for index, m in enumerate(mutations):
        if m.mutation_id <= previous:
            raise InvalidRequest(
                "mutation ids must be positive and strictly increasing within a batch",
                fields={f"mutations.{index}.mutation_id": ["not increasing"]},
            )
        previous = m.mutation_id


def _lock_device(conn: sa.Connection, tables: SyncTables, device_id: str, now) -> int:
    """The device's last applied mutation id, its row created if new and locked (on
    PostgreSQL) until the commit: one statement, as a no-op update of an existing row takes
    the row lock and returns it."""
    return conn.execute(_device_lock_query(conn.dialect.name, tables.device),
                        {"device_id": device_id}).scalar_one()


@functools.lru_cache(maxsize=8)
def _device_lock_query(dialect: str, device: sa.Table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(device).values(device_id=sa.bindparam("device_id"), last_mutation_id=0)
    return statement.on_conflict_do_update(
        index_elements=[device.c.device_id],
        set_={"last_mutation_id": device.c.last_mutation_id},
    ).returning(device.c.last_mutation_id)


NEVER_HANDLED = ("at or below the last mutation id handled, but never handled itself: ids "
                 "must increase; send the change under a new id")
REUSED = "this mutation id was handled for another change; send the change under a new id"


def _receipts(conn, tables: SyncTables, stream: str, replays: list[Mutation]) -> dict:
    """The answers to mutations at or below the stream's last handled id: each one's stored
    result when it is the very mutation handled under its id; else refused, never answered
    with another mutation's result."""
    if not replays:
        return {}
    stored = _stored_receipts(conn, tables, stream, replays[0].mutation_id,
                              replays[-1].mutation_id)
    kept_from = None
    if any(m.mutation_id not in stored for m in replays):
        kept_from = _oldest_receipt(conn, tables, stream)
    return {m.mutation_id: _replay(m, stored.get(m.mutation_id), kept_from) for m in replays}


def _replay(m: Mutation, stored: tuple[dict, str | None] | None,
            kept_from: int | None) -> MutationResult:
    if stored is None:
        # Receipts go oldest first, so an id at or above the oldest one kept that has none
        # was never handled; below it, it was handled so long ago its receipt has expired.
        if kept_from is not None and m.mutation_id >= kept_from:
            return _rejected(m, "mutation_id_out_of_order", NEVER_HANDLED,
                             {"mutation_id": [NEVER_HANDLED]}).result
        return MutationResult(m.mutation_id, Status.APPLIED, m.entity, m.record_id,
                              error=ErrorInfo("receipt_expired",
                                              "already handled; its receipt has expired"))
    result, handled = stored
    same = (handled == fingerprint(m) if handled is not None  # receipts from before prints
            else (result["entity"], result["id"]) == (m.entity, m.record_id))
    if not same:
        return _rejected(m, "mutation_id_reused", REUSED, {"mutation_id": [REUSED]}).result
    return MutationResult.from_wire(result)


_FINGERPRINT = msgspec.json.Encoder(order="sorted")


def fingerprint(m: Mutation) -> str:
    """What `m` does (entity, id, op, base version, fields and base; not its id or HLC), as
    16 hex digits: equal for a mutation sent again unchanged, in any key order."""
    content = (m.entity, m.record_id, str(m.op), m.base_version, m.fields, m.base)
    try:
        text = _FINGERPRINT.encode(content)
    except (TypeError, ValueError, OverflowError):  # a lone surrogate, say
        text = json.dumps(content, sort_keys=True).encode()
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def stored_results(conn: sa.Connection, tables: SyncTables, device_id: str,
                   low: int = 1, high: int | None = None) -> dict[int, dict]:
    """The stream's stored results (wire form) by mutation id, of the ids from `low` to
    `high` (inclusive; no bound: all), read from the receipts of the pushes that hold them."""
    return {mutation_id: result for mutation_id, (result, _) in
            _stored_receipts(conn, tables, device_id, low, high).items()}


def _stored_receipts(conn, tables: SyncTables, stream: str, low: int = 1,
                     high: int | None = None) -> dict[int, tuple[dict, str | None]]:
    """(result, fingerprint or None) by mutation id, as `stored_results`."""
    r = tables.receipt
    query = sa.select(r.c.results, r.c.fingerprints).where(r.c.device_id == stream,
                                                           r.c.last_mutation_id >= low)
    if high is not None:
        query = query.where(r.c.first_mutation_id <= high)
    found = {}
    for results, prints in conn.execute(query):
        for result, handled in zip(results, prints.split() if prints else [None] * len(results),
                                   strict=True):
            if low <= result["mutation_id"] and (high is None or result["mutation_id"] <= high):
                found[result["mutation_id"]] = (result, handled)
    return found


def _oldest_receipt(conn, tables: SyncTables, stream: str) -> int | None:
    """The first mutation id of the stream's oldest receipt still kept."""
    r = tables.receipt
    return conn.execute(sa.select(sa.func.min(r.c.first_mutation_id))
                        .where(r.c.device_id == stream)).scalar()


def _finish(conn, tables: SyncTables, actor: Actor, fresh: Sequence[Mutation],
            outcomes: Sequence[Outcome], payloads: dict, now) -> list[str]:
    """Store the push's receipt (its results) and its rejections, advance the device, log
    the changes; returns each result's JSON (as stored in the receipt)."""
    texts = [_result_json(outcome.result, payloads) for outcome in outcomes]
    receipts = [{"device_id": actor.stream, "last_mutation_id": fresh[-1].mutation_id,
                 "first_mutation_id": fresh[0].mutation_id,
                 "results": EncodedJSON(f"[{','.join(texts)}]"),
                 "fingerprints": " ".join(map(fingerprint, fresh)), "created_at": now}]
    rejections = []
    for m, outcome in zip(fresh, outcomes, strict=True):
        if outcome.result.status is Status.REJECTED:
            error = outcome.result.error
            rejections.append({
                "id": new_id(), "device_id": actor.device_id, "user_id": actor.user_id,
                "mutation_id": m.mutation_id, "entity": m.entity, "record_id": m.record_id,
                "code": error.code, "message": error.message, "fields": error.fields,
                "mutation": m.to_wire(), "created_at": now,
            })
    position = {"device_id": actor.stream, "last_mutation_id": fresh[-1].mutation_id,
                "last_push_at": now}
    writes = [("w0", tables.receipt, receipts), ("w1", tables.rejection, rejections)]
    if takes_values_lists(conn.dialect):
        _write_receipts_and_position(conn, tables, writes, position)
    else:
        for _, table, rows in writes:
            insert_rows(conn, table, rows)
        d = tables.device
        conn.execute(d.update().where(d.c.device_id == actor.stream).values(
            last_mutation_id=position["last_mutation_id"], last_push_at=now))
    changelog.append(conn, tables, [e for o in outcomes for e in o.changes])
    return texts


def _write_receipts_and_position(conn, tables: SyncTables, writes, position: dict) -> None:
    """PostgreSQL: the receipts and rejections and the device's new position in one
    statement (data-modifying CTEs): one round trip where there were two or three."""
    clauses, parameters = insert_ctes(conn, writes)
    quote = conn.dialect.identifier_preparer.quote
    device = quote(tables.device.name)
    columns, values_sql, values = values_list(conn, tables.device, [position])
    assigned = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns if c != "device_id")
    conn.exec_driver_sql(
        f"{'WITH ' + ', '.join(clauses) if clauses else ''} UPDATE {device} SET {assigned} "
        f"FROM (VALUES {values_sql}) AS v ({', '.join(map(quote, columns))}) "
        f"WHERE {device}.device_id = v.device_id",
        parameters + values)


def _result_json(result: MutationResult, payloads: dict) -> str:
    """The result's JSON, with the record's data as the sync view stored it when the result
    shows that very version."""
    record = result.record
    written = payloads.get((record.entity, record.record_id)) if record else None
    if written is None or written[0] != record.version:
        return result.to_json()
    return result.to_json(data_json=written[1])
