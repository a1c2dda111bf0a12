"""Benchmark databases: schema, territories, users, and accounts seeded in bulk.

Accounts go in through the engine's bulk path (`import_records` in batches, each inside
`write_transaction`): validated, canonicalised and logged exactly like a back-office import.

`clone_accounts` is a bench-only direct SQL fast path for very large tables (SQLite): it
copies accounts already imported through the engine, inside the database, giving each copy
a new id and account number and writing every engine table in step (domain row,
`sync_record`, `sync_record_key`, `sync_change`, `sync_change_key`). It exists because the
engine path validates each record (about a millisecond each here), so a million records
would take tens of minutes. Every run that uses it says so in its notes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.scenarios.data import Record, territory
from server.domain import import_records
from server.models import SYNC_TABLES, Base, Role
from server.services import users
from sync import changelog
from sync.database import prepare_engine, write_transaction

PASSWORD = "bench-password-0123"
# Logins are set-up, not what is measured: a cheap hash keeps 200 of them quick.
HASH_METHOD = "pbkdf2:sha256:1000"
BATCH = 1000


@dataclass(frozen=True)
class Rep:
    email: str
    territory_code: str
    territory_id: str


def create_schema(url: str) -> sa.Engine:
    """An engine on `url` with every table created from the models (as the tests do)."""
    engine = prepare_engine(sa.create_engine(url))
    Base.metadata.create_all(engine)
    return engine


def add_territories(engine: sa.Engine, codes: Iterable[str]) -> dict[str, str]:
    """Create territories through the engine; returns code -> id."""
    records = [territory(code) for code in codes]
    with write_transaction(engine) as conn:
        import_records(conn, "territory", records)
    return {r["code"]: r["id"] for r in records}


def add_reps(engine: sa.Engine, territories: dict[str, str],
             emails: Iterable[tuple[str, str]]) -> list[Rep]:
    """Create active reps, each (email, territory code); all share PASSWORD."""
    reps = []
    with Session(engine) as session:
        for email, code in emails:
            users.create_user(session, email=email, name=email.split("@")[0], role=Role.REP,
                              password=PASSWORD, territory_codes=[code],
                              hash_method=HASH_METHOD)
            reps.append(Rep(email, code, territories[code]))
        session.commit()
    return reps


def batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_accounts(engine: sa.Engine, records: Iterable[Record], *,
                    batch: int = BATCH) -> tuple[int, float]:
    """The engine's bulk path; returns (records written, seconds)."""
    started, count = time.perf_counter(), 0
    for chunk in batches(records, batch):
        with write_transaction(engine) as conn:
            count += import_records(conn, "account", chunk)
    return count, time.perf_counter() - started


def clone_accounts(engine: sa.Engine, count: int, *, exclude_territory: str) -> float:
    """Bench-only direct SQL fast path (SQLite): add `count` accounts cloned from the
    accounts already seeded (outside `exclude_territory`), with every engine table in step.

    Each clone gets a new id (the source's with its first 8 hex digits replaced by the round
    number), a new account number (the source's plus ".<round>") in its row and in its JSON,
    its own `site:` scope key, and a change-log entry after the current head, so the tables
    look as if `import_records` had written the clones. Returns the seconds it took.
    """
    started, done, round_no = time.perf_counter(), 0, 0
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS bench_clone "
                             "(src TEXT PRIMARY KEY, dst TEXT NOT NULL, n INTEGER NOT NULL)")
        conn.commit()
    while done < count:
        round_no += 1
        with write_transaction(engine) as conn:
            added = _clone_round(conn, round_no, count - done, exclude_territory)
        if added == 0:
            raise ValueError("no accounts to clone from")
        done += added
    return time.perf_counter() - started


def _clone_round(conn: sa.Connection, round_no: int, limit: int, exclude: str) -> int:
    run = conn.exec_driver_sql
    account = Base.metadata.tables["account"]
    run("DELETE FROM temp.bench_clone")
    # Domain tables keep UUIDs as 32 hex digits on SQLite, the sync tables as 36 characters.
    run("INSERT INTO temp.bench_clone (src, dst, n) "
        "SELECT record_id, printf('%08x', ?) || substr(record_id, 9), "
        "row_number() OVER (ORDER BY record_id) FROM sync_record "
        "WHERE entity = 'account' AND instr(scope, ?) = 0 "
        "AND json_extract(payload, '$.account_number') NOT LIKE '%.%' "
        "ORDER BY record_id LIMIT ?", (round_no, f"territory:{exclude}", limit))
    suffix = f".{round_no}"
    columns = [c.name for c in account.columns]
    picked = ", ".join("replace(c.dst, '-', '')" if name == "id" else "a.account_number || ?"
                       if name == "account_number" else f"a.{name}" for name in columns)
    run(f"INSERT INTO account ({', '.join(columns)}) SELECT {picked} "
        "FROM temp.bench_clone c CROSS JOIN account a ON a.id = replace(c.src, '-', '')", (suffix,))
    run("INSERT INTO sync_record (entity, record_id, version, hlc, scope, payload, deleted, "
        "updated_at) SELECT r.entity, c.dst, r.version, r.hlc, "
        "replace(r.scope, 'site:' || c.src, 'site:' || c.dst), "
        "json_set(r.payload, '$.account_number', json_extract(r.payload, '$.account_number') "
        "|| ?), r.deleted, r.updated_at FROM temp.bench_clone c CROSS JOIN sync_record r "
        "ON r.entity = 'account' AND r.record_id = c.src", (suffix,))
    # A record's key rows are the keys its scope lists (the key tables have no index by
    # record): split the clone's scope, a few keys without spaces or quotes, as JSON.
    keys = ("FROM temp.bench_clone c CROSS JOIN sync_record r "
            "ON r.entity = 'account' AND r.record_id = c.dst "
            "CROSS JOIN json_each('[\"' || replace(r.scope, ' ', '\",\"') || '\"]') k")
    run(f"INSERT INTO sync_record_key (key, entity, record_id) SELECT k.value, 'account', "
        f"c.dst {keys}")
    head = changelog.head(conn, SYNC_TABLES)
    run("INSERT INTO sync_change (seq, entity, record_id, version, deleted, scope_keys, "
        "device_id, created_at) SELECT ? + c.n, 'account', c.dst, r.version, r.deleted, "
        "r.scope, NULL, r.updated_at FROM temp.bench_clone c CROSS JOIN sync_record r "
        "ON r.entity = 'account' AND r.record_id = c.dst", (head,))
    run(f"INSERT INTO sync_change_key (key, seq) SELECT k.value, ? + c.n {keys}", (head,))
    return run("SELECT count(*) FROM temp.bench_clone").scalar()


def count_rows(engine: sa.Engine) -> dict[str, int]:
    """Rows in the tables that grow with the data."""
    t = SYNC_TABLES
    with engine.connect() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in (t.record, t.record_key, t.change, t.change_key)}
