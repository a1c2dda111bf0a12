"""The Alembic history builds exactly the schema the models declare, on the selected backend.

Each test gets an empty database of its own (not the session's, which the suite builds with
create_all), so what is checked here is what `fieldsync db upgrade` gives a new installation.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import server
from server.models import SYNC_TABLES, Base
from sync.database import prepare_engine
from sync.push import stored_results
from tests.databases import fresh_database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture
def empty_url(tmp_path_factory):
    with fresh_database(tmp_path_factory) as url:
        yield url


def alembic_config(url: str) -> Config:
    """The configuration `alembic -c migrations/alembic.ini -x url=...` would build."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    return config


def schema_diff(url: str) -> list:
    engine = prepare_engine(sa.create_engine(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def named_schema_objects(url: str) -> dict[str, dict]:
    """Per table, what autogenerate's diff does not compare: names, CHECK texts, partial
    indexes' conditions and, on SQLite, AUTOINCREMENT (sequence numbers that are never
    reused) and WITHOUT ROWID."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {
                table: {
                    "pk": inspector.get_pk_constraint(table)["name"],
                    "checks": sorted((c["name"], c["sqltext"])
                                     for c in inspector.get_check_constraints(table)),
                    "uniques": sorted(c["name"]
                                      for c in inspector.get_unique_constraints(table)),
                    "fks": sorted(c["name"] for c in inspector.get_foreign_keys(table)),
                    "indexes": sorted(i["name"] for i in inspector.get_indexes(table)),
                    "sqlite_options": _sqlite_options(connection, table),
                    "partial_indexes": _partial_indexes(connection, table),
                }
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }
    finally:
        engine.dispose()


def _sqlite_options(connection: sa.Connection, table: str) -> set[str]:
    """Of AUTOINCREMENT and WITHOUT ROWID, those the table's CREATE statement has (SQLite)."""
    if connection.dialect.name != "sqlite":
        return set()
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one().upper()
    return {option for option in ("AUTOINCREMENT", "WITHOUT ROWID") if option in sql}


def _partial_indexes(connection: sa.Connection, table: str) -> dict[str, str]:
    """Each partial index's condition, as the database states it."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql LIKE '% WHERE %'", (table,))
    else:
        rows = connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexdef LIKE '%% WHERE %%'", (table,))
    return {name: " ".join(sql.split(" WHERE ", 1)[1].split()) for name, sql in rows}


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_history_is_one_line_with_a_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "two revisions share a parent: merge or rebase them"


def test_upgrade_from_empty_matches_the_models(empty_url, monkeypatch):
    def no_app(*args, **kwargs):
        raise AssertionError("the Alembic env must not build the app")

    monkeypatch.setattr(server, "create_app", no_app)
    command.upgrade(alembic_config(empty_url), "head")

    assert schema_diff(empty_url) == []
    assert table_names(empty_url) == set(Base.metadata.tables)


def test_upgrade_names_constraints_and_checks_like_create_all(empty_url, tmp_path_factory):
    command.upgrade(alembic_config(empty_url), "head")
    with fresh_database(tmp_path_factory) as reference_url:
        engine = prepare_engine(sa.create_engine(reference_url))
        Base.metadata.create_all(engine)
        engine.dispose()
        expected = named_schema_objects(reference_url)

    assert named_schema_objects(empty_url) == expected


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(empty_url):
    config = alembic_config(empty_url)
    command.upgrade(config, "head")

    command.downgrade(config, "base")
    assert table_names(empty_url) == set()

    command.upgrade(config, "head")
    assert schema_diff(empty_url) == []


# sync_receipt as revision 656cffc274e5 made it: one row per mutation.
OLD_RECEIPT = sa.Table(
    "sync_receipt", sa.MetaData(),
    sa.Column("device_id", sa.String(36), primary_key=True),
    sa.Column("mutation_id", sa.BigInteger, primary_key=True),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


def old_receipts(device_id: str) -> list[dict]:
    return [{"device_id": device_id, "mutation_id": i, "created_at": datetime(2026, 12, 1, i),
             "result": {"mutation_id": i, "status": "applied", "entity": "visit", "id": f"v{i}",
                        "record": None, "conflicts": [], "error": None, "note": "é"}}
            for i in (3, 4, 9)]


def test_receipts_stored_per_mutation_carry_over_to_receipts_per_push_and_back(empty_url):
    config = alembic_config(empty_url)
    command.upgrade(config, "656cffc274e5")
    engine = prepare_engine(sa.create_engine(empty_url))
    rows = old_receipts("device-1") + old_receipts("device-2")[:1]
    with engine.begin() as conn:
        conn.execute(OLD_RECEIPT.insert(), rows)

    command.upgrade(config, "head")
    with engine.connect() as conn:
        carried = stored_results(conn, SYNC_TABLES, "device-1")
        assert carried == {row["mutation_id"]: row["result"] for row in rows[:3]}
        assert stored_results(conn, SYNC_TABLES, "device-1", 4, 8) == {4: rows[1]["result"]}
        assert len(stored_results(conn, SYNC_TABLES, "device-2")) == 1

    command.downgrade(config, "656cffc274e5")
    with engine.connect() as conn:
        back = conn.execute(sa.select(OLD_RECEIPT).order_by("device_id", "mutation_id"))
        assert [(r.device_id, r.mutation_id, r.result) for r in back] == [
            (r["device_id"], r["mutation_id"], r["result"]) for r in rows]
    engine.dispose()
