"""How the engine opens a SQLite server database."""

from __future__ import annotations

import shutil
import sqlite3
import time

import sqlalchemy as sa

from sync.checkpoint import FALLBACK_PAGES, WalCheckpointer
from sync.database import prepare_engine, read_transaction, write_transaction


def _pragmas(engine: sa.Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size",
                             "wal_autocheckpoint", "temp_store")}


def test_a_server_database_file_syncs_every_commit_to_disk(tmp_path):
    # An acknowledged push must outlive a power loss: WAL with synchronous=FULL (2), not
    # NORMAL, which may undo the last commits when the machine (not the process) goes down.
    engine = prepare_engine(sa.create_engine(f"sqlite:///{tmp_path / 'server.sqlite'}"))
    try:
        assert _pragmas(engine) == {"journal_mode": "wal", "synchronous": 2,
                                    "foreign_keys": 1, "cache_size": -32768,
                                    "wal_autocheckpoint": FALLBACK_PAGES, "temp_store": 2}
    finally:
        engine.dispose()


def test_reads_share_one_snapshot_on_sqlite_and_run_without_a_transaction_on_postgresql(
        engine):
    with read_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            # READ COMMITTED gives every statement its own snapshot anyway
            driver = conn.connection.dbapi_connection
            assert driver.autocommit
            conn.exec_driver_sql("SELECT 1")
            assert driver.info.transaction_status.name == "IDLE"  # no BEGIN was sent
        else:
            assert conn.in_transaction()
            conn.exec_driver_sql("SELECT 1")
    with engine.connect() as conn:  # the pooled connection came back as it was
        assert not getattr(conn.connection.dbapi_connection, "autocommit", False)


def _eventually(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _rows_in_main_file(path, copy) -> list:
    """The table's rows as the database file alone holds them, without its -wal log."""
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        return conn.execute("SELECT n FROM t ORDER BY n").fetchall()


def test_a_committed_write_is_copied_back_to_the_database_file_by_the_thread(tmp_path):
    # Commits only append to the log (the automatic checkpoint is 64 MiB away); the thread
    # woken after the commit copies the pages into the database file itself.
    path = tmp_path / "server.sqlite"
    engine = prepare_engine(sa.create_engine(f"sqlite:///{path}"))
    checkpointer = engine._fieldsync_checkpointer
    try:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        _eventually(lambda: checkpointer.checkpoints >= 1)
        done = checkpointer.checkpoints
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1), (2)")
        _eventually(lambda: checkpointer.checkpoints > done)
        assert _rows_in_main_file(path, tmp_path / "copy.sqlite") == [(1,), (2,)]
    finally:
        engine.dispose()


def test_the_checkpoint_thread_ends_when_idle_and_a_later_commit_starts_another(tmp_path):
    path = tmp_path / "server.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE t (n INTEGER)")
    checkpointer = WalCheckpointer(str(path), idle_seconds=0.05)
    checkpointer.poke()
    _eventually(lambda: checkpointer._thread is None)  # idle: the thread has ended
    assert checkpointer.checkpoints == 1
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO t VALUES (7)")
    checkpointer.poke()
    _eventually(lambda: checkpointer.checkpoints == 2)
    try:  # the writer still open: closing the last connection would checkpoint by itself
        assert _rows_in_main_file(path, tmp_path / "copy.sqlite") == [(7,)]
    finally:
        writer.close()
