"""Engine set-up and transactions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from sync.checkpoint import FALLBACK_PAGES, WalCheckpointer
from sync.errors import RetryTransaction, ServerBusy

T = TypeVar("T")
# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction was
# rolled back and may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 6

_BEGIN_OPTION = "fieldsync_begin"


def prepare_engine(engine: sa.Engine) -> sa.Engine:
    """Tune an engine for fieldsync; idempotent.

    On SQLite this turns on foreign keys, WAL and a busy timeout, and takes over BEGIN from
    the sqlite3 module (which otherwise breaks SAVEPOINT) so writers can BEGIN IMMEDIATE.
    Commits are synced to disk (synchronous=FULL): an answered push must outlive a power
    loss, which NORMAL does not promise in WAL mode; batched pushes make the one fsync per
    commit cheap. The page cache (32 MiB, SQLite's default is 2) keeps the indexes that
    random record ids spread writes across in memory as the tables grow; temporary journals
    and sorts stay in memory too (temp_store). Checkpoints run in a thread after each commit
    instead of inside one (sync.checkpoint).
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_fieldsync_prepared", False):
        return engine
    engine._fieldsync_prepared = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA cache_size=-32768")
            # Savepoint and statement journals (a push's savepoint holds the original of every
            # page its bulk writes change) and temporary sorts in memory, not in temporary
            # files: about 3% of a pushed create's time in A/B runs
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
        cur.close()

    if engine.url.database not in (None, "", ":memory:"):
        engine._fieldsync_checkpointer = WalCheckpointer(  # type: ignore[attr-defined]
            engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads that must agree with each other (a pull's scope and pages).

    On SQLite a transaction gives them one snapshot. On PostgreSQL, at READ COMMITTED, each
    statement takes its own snapshot in a transaction or not, so the reads run in autocommit
    mode, which spares the BEGIN and COMMIT round trips.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
            return
        with conn.begin():
            yield conn


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: on SQLite it takes the write lock up front.

    Taking the lock at BEGIN avoids SQLITE_BUSY when a read transaction later tries to
    upgrade after another writer committed; PostgreSQL needs nothing special here.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn
    checkpointer = getattr(engine, "_fieldsync_checkpointer", None)
    if checkpointer is not None:  # SQLite: copy the log back, not in the next commit
        checkpointer.poke()


def retrying(engine: sa.Engine, work: Callable[[sa.Connection], T], *,
             attempts: int = WRITE_ATTEMPTS, pause: float = 0.01) -> T:
    """`work(conn)` in a write transaction, run again from the start (after a short random
    pause, doubling each time) when it meets a concurrent writer it cannot wait out: a
    deadlock or serialization failure reported by PostgreSQL, or RetryTransaction raised by
    the engine. `work` must have no effect outside the transaction. Raises ServerBusy when
    the last of `attempts` fails the same way, so a client is told to retry, never 500.
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except (sa.exc.DBAPIError, RetryTransaction) as exc:
            if not _retryable(exc):
                raise
            if attempt == attempts:
                raise ServerBusy("the server is busy with concurrent changes to the same "
                                 "records; send the request again") from exc
        time.sleep(random.uniform(0, pause * 2 ** attempt))
    raise AssertionError("unreachable")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, RetryTransaction):
        return True
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES
