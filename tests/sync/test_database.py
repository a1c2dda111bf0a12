"""How the engine opens a SQLite server database."""

from __future__ import annotations

import sqlalchemy as sa

from sync.database import prepare_engine


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
