"""Bulk inserts with SQLAlchemy's per-row work done per column instead.

`conn.execute(table.insert(), rows)` builds and processes a parameter set per row in Python
(`DefaultExecutionContext._init_compiled`); for the thousands of narrow rows a push writes,
that costs more than the database's own work. `insert_rows` compiles the INSERT once per
table, column set and dialect, converts each column with the very bind processor SQLAlchemy
would use, and hands plain parameter rows to the driver through `exec_driver_sql`: on SQLite
as one executemany, on PostgreSQL as one multi-row VALUES statement (a round trip for the
lot; psycopg's executemany costs a round trip per row). Driver errors still arrive as
SQLAlchemy's exceptions (IntegrityError, DataError).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    columns: tuple[str, ...]  # parameter order
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    names: tuple[str, ...] | None  # bind names for a driver taking named parameters
    # PostgreSQL (psycopg): "INSERT ... VALUES" and one row's "(%s, %s::JSON, ...)", so many
    # rows go in one statement and one round trip instead of one per row
    many: tuple[str, str] | None = None


class EncodedJSON(str):
    """A JSON column's value already encoded: stored as it is, not encoded again."""


# PostgreSQL takes at most 65,535 parameters per statement; stay well below.
MAX_PARAMETERS = 30_000
_NAMED = re.compile(r"%\((\w+)\)s")


# per dialect object (its processors depend on its settings), forgotten with its engine
_COMPILED: WeakKeyDictionary[sa.Dialect, dict] = WeakKeyDictionary()


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` in one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    compiled = _compiled(conn.dialect, table, columns)
    if compiled is None or set(map(len, rows)) != {len(columns)}:  # a C loop: 500-row inserts
        # defaults to fill, or rows of different shapes: SQLAlchemy's own path does that
        conn.execute(table.insert(), list(rows))
        return
    if compiled.many is None:
        conn.exec_driver_sql(compiled.sql, _parameters(compiled, rows))
        return
    head, group = compiled.many
    step = max(1, MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), step):
        values = _parameters(compiled, rows[start:start + step])
        conn.exec_driver_sql(head + ", ".join([group] * len(values)),
                             tuple(v for row in values for v in row))


def delete_keys(conn: sa.Connection, columns: Sequence[sa.Column],
                keys: Iterable[tuple]) -> None:
    """DELETE the rows whose `columns` (a table's primary key) hold one of `keys` (tuples):
    one statement run for every key (an executemany), each a lookup in the primary key.
    `(a, b) IN (VALUES ...)` would be one statement, but SQLite answers it by scanning the
    whole table."""
    keys = list(keys)
    if not keys:
        return
    table = columns[0].table
    names = [f"_k{i}" for i in range(len(columns))]
    equal = (column == sa.bindparam(name) for column, name in zip(columns, names, strict=True))
    conn.execute(table.delete().where(*equal),
                 [dict(zip(names, key, strict=True)) for key in keys])


def takes_values_lists(dialect: sa.Dialect) -> bool:
    """Whether `values_list` serves this dialect and driver (PostgreSQL through psycopg)."""
    return dialect.name == "postgresql" and dialect.paramstyle == "pyformat"


def values_list(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
                ) -> tuple[tuple[str, ...], str, tuple]:
    """`rows` (dicts with the same keys, every column without a default among them) as a
    PostgreSQL VALUES list typed for `table`'s columns, for a statement of the caller's own
    (a data-modifying CTE, say): (the column order, the rows' SQL, their parameters,
    converted as `insert_rows` would). Only where `takes_values_lists(dialect)`."""
    compiled = _compiled(conn.dialect, table, tuple(rows[0]))
    if compiled is None or compiled.many is None:
        raise ValueError(f"these rows of {table.name} cannot be sent as a VALUES list")
    values = _parameters(compiled, rows)
    return (compiled.columns, ", ".join([compiled.many[1]] * len(values)),
            tuple(v for row in values for v in row))


def _insert_cte(conn: sa.Connection, name: str, table: sa.Table,
               rows: Sequence[Mapping[str, Any]], *, select: Mapping[str, str] | None = None,
               joined: str = "") -> tuple[str, tuple]:
    """PostgreSQL: an INSERT of `rows` into `table` as a data-modifying CTE named `name`
    ("name AS (INSERT INTO t (...) SELECT ... FROM (VALUES ...) AS v (...))"), and its
    parameters, for a statement that makes several writes in one round trip. A column's
    value is `v.<column>` unless `select` gives another expression for it; `joined` is
    appended to the FROM clause (a join with another CTE the expressions use). Only where
    `takes_values_lists(dialect)`."""
    quote = conn.dialect.identifier_preparer.quote
    columns, values_sql, values = values_list(conn, table, rows)
    names = ", ".join(map(quote, columns))
    picked = ", ".join((select or {}).get(c) or f"v.{quote(c)}" for c in columns)
    return (f"{name} AS (INSERT INTO {quote(table.name)} ({names}) SELECT {picked} "
            f"FROM (VALUES {values_sql}) AS v ({names}){joined})", values)


def insert_ctes(conn: sa.Connection,
                writes: Iterable[tuple[str, sa.Table, Sequence[Mapping[str, Any]]]], *,
                select: Mapping[str, str] | None = None, joined: str = ""
                ) -> tuple[list[str], tuple]:
    """`_insert_cte` for each (name, table, rows) of `writes` that has rows: the CTEs and all
    their parameters, in order."""
    ctes, parameters = [], ()
    for name, table, rows in writes:
        if rows:
            cte, values = _insert_cte(conn, name, table, rows, select=select, joined=joined)
            ctes.append(cte)
            parameters += values
    return ctes, parameters


def _compiled(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]
              ) -> _CompiledInsert | None:
    cache = _COMPILED.setdefault(dialect, {})
    if (table, columns) not in cache:
        cache[table, columns] = _compile(dialect, table, columns)
    return cache[table, columns]


def _compile(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]
             ) -> _CompiledInsert | None:
    if any(c.default is not None for c in table.columns if c.key not in columns):
        return None
    statement = table.insert().compile(dialect=dialect, column_keys=list(columns))
    if statement.positional:
        order = tuple(statement.positiontup)
        names = None
    else:
        order = names = tuple(statement.binds)
    if set(order) != set(columns) or statement.escaped_bind_names:
        return None
    many = None
    if takes_values_lists(dialect):
        head, group = str(statement).split(" VALUES ", 1)
        order, names = tuple(_NAMED.findall(group)), None
        many = (head + " VALUES ", _NAMED.sub("%s", group))
    processors = tuple(
        (position, _json_aware(processor) if isinstance(table.c[name].type, sa.JSON)
         else processor)
        for position, name in enumerate(order)
        if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    )
    return _CompiledInsert(str(statement), order, processors, names, many)


def _json_aware(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def encode(value):
        return str(value) if type(value) is EncodedJSON else process(value)
    return encode


def _parameters(compiled: _CompiledInsert, rows: Sequence[Mapping[str, Any]]) -> list:
    pick = itemgetter(*compiled.columns)
    values = [pick(row) for row in rows]
    if len(compiled.columns) == 1:
        values = [(value,) for value in values]
    if compiled.processors:
        by_column = list(zip(*values, strict=True))
        for position, process in compiled.processors:
            by_column[position] = _process(process, by_column[position])
        values = list(zip(*by_column, strict=True))
    if compiled.names is not None:
        return [dict(zip(compiled.names, row, strict=True)) for row in values]
    return values


def _process(process: Callable[[Any], Any], column: Sequence[Any]) -> list[Any]:
    """`process` (a bind processor: a pure function) applied to each value of `column`."""
    first = column[0]
    if len(set(map(id, column))) == 1:
        # the same object in every row (a batch's timestamp, or NULL): convert it once
        return [process(first)] * len(column)
    if type(first) is str and all(type(value) is str for value in column):
        distinct = dict.fromkeys(column)
        if len(distinct) * 4 <= len(column):
            # a few values repeated (a status, a territory): convert each once
            for value in distinct:
                distinct[value] = process(value)
            return list(map(distinct.__getitem__, column))
    return list(map(process, column))
