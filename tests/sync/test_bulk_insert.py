"""sync.bulk.insert_rows stores exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from server.models import SYNC_TABLES, Part
from sync.bulk import insert_rows
from tests.world import uid

NOW = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def part_rows(prefix: str) -> list[dict]:
    return [{"id": uid(), "version": 1, "created_at": NOW, "updated_at": NOW + timedelta(i),
             "deleted_at": None if i else NOW, "part_number": f"{prefix}-{i}",
             "name": f"Part {i} ✓", "unit_cost": Decimal(f"{i}.5"), "active": bool(i % 2)}
            for i in range(3)]


def receipt_rows(device_id: str) -> list[dict]:
    return [{"device_id": device_id, "last_mutation_id": i, "first_mutation_id": i,
             "created_at": NOW,
             "results": [{"status": "applied", "n": i, "text": "ü", "none": None}]}
            for i in range(1, 4)]


def stored(conn, table: sa.Table, rows: list[dict], key: str) -> list[dict]:
    """The rows stored under `rows`' keys, without the key and the random id, in a fixed order."""
    ids = [row[key] for row in rows]
    found = conn.execute(sa.select(table).where(table.c[key].in_(ids))).mappings()
    return sorted(({k: v for k, v in row.items() if k not in (key, "id")} for row in found),
                  key=lambda row: sorted(map(str, row.values())))


@pytest.mark.parametrize(("table", "make", "key"), [
    (Part.__table__, part_rows, "part_number"),
    (SYNC_TABLES.receipt, receipt_rows, "device_id"),
], ids=["domain table", "json column"])
def test_bulk_rows_read_back_as_sqlalchemy_inserted_rows_do(engine, table, make, key):
    ours, theirs = make("bulk"), make("core")
    with engine.begin() as conn:
        insert_rows(conn, table, ours)
        conn.execute(table.insert(), theirs)
    with engine.connect() as conn:
        fields = [k for k in ours[0] if k not in (key, "id")]
        mine = [{k: r[k] for k in fields} for r in stored(conn, table, ours, key)]
        core = [{k: r[k] for k in fields} for r in stored(conn, table, theirs, key)]
    assert mine == core
    assert len(mine) == 3


def test_a_broken_constraint_raises_sqlalchemys_integrity_error(engine):
    rows = part_rows("dup")
    rows[1]["part_number"] = rows[0]["part_number"]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_rows(conn, Part.__table__, rows)


def test_rows_beyond_one_statements_parameter_limit_all_arrive(engine, monkeypatch):
    monkeypatch.setattr("sync.bulk.MAX_PARAMETERS", 10)  # 4 columns: 2 rows per statement
    rows = receipt_rows("split")
    with engine.begin() as conn:
        insert_rows(conn, SYNC_TABLES.receipt, rows)
    with engine.connect() as conn:
        found = stored(conn, SYNC_TABLES.receipt, rows, "device_id")
    assert sorted(r["last_mutation_id"] for r in found) == [1, 2, 3]
    assert [r["results"] for r in sorted(found, key=lambda r: r["last_mutation_id"])] == [
        row["results"] for row in rows]
