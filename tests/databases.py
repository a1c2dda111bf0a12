"""Throw-away databases for tests: a SQLite file, or a PostgreSQL database of their own.

FIELDSYNC_TEST_DB selects the backend (`sqlite`, the default, or `postgresql`);
FIELDSYNC_TEST_PG_URL names the PostgreSQL server (a database on it is used only to create
and drop the test's own database, so runs never touch a developer's data).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from server.models import Base
from sync.database import prepare_engine

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def backend() -> str:
    return os.environ.get("FIELDSYNC_TEST_DB", "sqlite")


@contextmanager
def postgres_database(prefix: str = "fieldsync_test") -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards."""
    admin_url = sa.make_url(os.environ.get("FIELDSYNC_TEST_PG_URL", DEFAULT_PG_URL))
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def fresh_database(tmp_path_factory) -> Iterator[str]:
    """An empty database of the selected backend."""
    if backend() == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        path = tmp_path_factory.mktemp("db") / "fieldsync.sqlite"
        yield f"sqlite:///{path}"


def truncate_all(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Empty every table, fast: one TRUNCATE on PostgreSQL, DELETEs on SQLite."""
    tables = [t for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                conn.execute(table.delete())
            conn.exec_driver_sql("DELETE FROM sqlite_sequence") if _has_sequence(conn) else None


def _has_sequence(conn: sa.Connection) -> bool:
    return bool(
        conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'"
        ).first()
    )


@contextmanager
def database_with_schema(tmp_path_factory) -> Iterator[str]:
    """An empty database of the selected backend with every table built from the models."""
    with fresh_database(tmp_path_factory) as url:
        engine = prepare_engine(sa.create_engine(url))
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
