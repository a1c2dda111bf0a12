"""Adapts a marshmallow schema and a table to the engine's RecordCodec protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError

from server.compiled_schema import CompiledSchema
from server.models import Money
from sync.entities import FieldErrors
from sync.protocol import NUL, NUL_MESSAGE
from sync.sqltypes import UTCDateTime


def _column_converter(column_type: sa.types.TypeEngine) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UTCDateTime):
        return datetime.fromisoformat
    if isinstance(column_type, sa.Date):
        return date.fromisoformat
    if isinstance(column_type, Money | sa.Numeric):
        return Decimal
    return None


def _refuse_nul(values: Mapping[str, Any]) -> None:
    """Raise FieldErrors naming each text value with a NUL character: PostgreSQL cannot store
    one, and SQLite, which could, must answer alike."""
    for value in values.values():
        if type(value) is str and NUL in value:
            raise FieldErrors({k: [NUL_MESSAGE] for k, v in values.items()
                               if type(v) is str and NUL in v})


class SchemaCodec:
    """Validates through `schema`, keeps values in canonical wire form, converts for `table`."""

    def __init__(self, schema: Schema, table: sa.Table):
        self.schema = schema
        self._compiled = CompiledSchema(schema)
        # A created record carries every field, null where not given.
        self._blank = {name: None for name, f in schema.fields.items() if not f.dump_only}
        self._convert = {
            column.name: convert
            for column in table.columns
            if (convert := _column_converter(column.type)) is not None
        }

    def load(self, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        if not isinstance(values, Mapping):
            raise FieldErrors({"fields": ["must be an object"]})
        _refuse_nul(values)
        try:
            dumped = self._compiled.canonical(values, partial=partial)
        except ValidationError as exc:
            raise FieldErrors(exc.messages) from exc
        return dumped if partial else {**self._blank, **dumped}

    def to_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        row = dict(values)  # most columns take the wire value as it is: convert the others
        for name, convert in self._convert.items():
            value = row.get(name)
            if value is not None:
                row[name] = convert(value)
        return row
