"""How the engine opens a SQLite server database."""

from __future__ import annotations

import sqlalchemy as sa

from sync.database import prepare_engine, read_transaction


def _pragmas(engine: sa.Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size")}


def test_a_server_database_file_syncs_every_commit_to_disk(tmp_path):
    # An acknowledged push must outlive a power loss: WAL with synchronous=FULL (2), not
    # NORMAL, which may undo the last commits when the machine (not the process) goes down.
    engine = prepare_engine(sa.create_engine(f"sqlite:///{tmp_path / 'server.sqlite'}"))
    try:
        assert _pragmas(engine) == {"journal_mode": "wal", "synchronous": 2,
                                    "foreign_keys": 1, "cache_size": -32768}
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
