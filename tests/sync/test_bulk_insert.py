"""sync.bulk.insert_rows stores exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from server.models import SYNC_TABLES, Part
from sync.bulk import _process, insert_rows
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


class Counting:
    """A bind processor that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, value):
        self.calls += 1
        return None if value is None else f"<{value}>"


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.text(max_size=3),
                          st.integers(0, 3)), min_size=1, max_size=40))
def test_a_column_is_processed_as_value_by_value(column):
    assert _process(Counting(), column) == [Counting()(value) for value in column]


@pytest.mark.parametrize(("column", "calls"), [
    ([None] * 8, 1),  # NULL in every row
    (["active", "prospect"] * 4, 2),  # a few values repeated: each once
    ([f"id-{i}" for i in range(8)], 8),  # all different
    (["active"] * 7 + [1], 8),  # not all text: value by value
])
def test_each_distinct_value_is_processed_once_where_that_saves_calls(column, calls):
    process = Counting()
    _process(process, column)
    assert process.calls == calls
