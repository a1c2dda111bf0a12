"""Fast loaders for marshmallow fields: the common input, converted by direct code.

Each builder turns one bound marshmallow field into a `FastField`: `load` maps a raw wire
value to exactly what the field's `deserialize` returns, `dump` maps that to exactly what its
`serialize` returns. They only take the plain case (a JSON string for a string field, an int
for an integer field); for anything else they raise `Unsure`, and the caller hands the input
to marshmallow, which decides and words the error. Validators are the field's own objects.
server.compiled_schema puts them together per schema; custom fields register their own
builders (server.domain.wire_fields).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate

Convert = Callable[[Any], Any]


class Unsure(Exception):
    """The fast path cannot vouch for this input; marshmallow must decide."""


class NotCompilable(Exception):
    """The field or schema uses something the fast path does not reproduce."""


# What a fast converter may raise on odd input besides Unsure: all mean "ask marshmallow".
FAST_PATH_DOUBTS = (Unsure, ValidationError, ValueError, TypeError, ArithmeticError,
                    AttributeError)


@dataclass(frozen=True)
class FastField:
    load: Convert
    dump: Convert | None = None  # None: the loaded value is already its dumped form
    checked: bool = False  # load already handles None and runs the field's validators
    # `dump` of a value this field's own `load` made, when that takes less (load then dump
    # in canonical); None: `dump`
    dump_loaded: Convert | None = None


BUILDERS: dict[type[fields.Field], Callable[[Any], FastField]] = {}


def builder(*field_classes: type[fields.Field]):
    """Register a function building the FastField of fields of exactly these classes."""
    def register(build: Callable[[Any], FastField]) -> Callable[[Any], FastField]:
        for cls in field_classes:
            BUILDERS[cls] = build
        return build
    return register


def doubt(*_args: Any) -> Any:
    raise Unsure


@builder(fields.String, fields.Email)  # an Email field's check is among its validators
def _string(field: fields.String) -> FastField:
    bounds = length_bounds(field.validators)
    if bounds is not None:
        return _bounded_string(field.allow_none, *bounds)

    def load(value):
        if type(value) is not str:
            raise Unsure
        return value
    return FastField(load)


def length_bounds(validators) -> tuple[int, float] | None:
    """The (min, max) lengths when every validator is a plain Length, else None."""
    if not all(type(v) is validate.Length and v.equal is None for v in validators):
        return None
    low = max((v.min for v in validators if v.min is not None), default=0)
    high = min((v.max for v in validators if v.max is not None), default=float("inf"))
    return low, high


def _bounded_string(allow_none: bool, low: int, high: float) -> FastField:
    """The most common field, in one step: a string within its length limits."""
    def load(value):
        if type(value) is str and low <= len(value) <= high:
            return value
        if value is None and allow_none:
            return None
        raise Unsure
    return FastField(load, checked=True)


@builder(fields.Integer)
def _integer(field: fields.Integer) -> FastField:
    def load(value):
        if type(value) is not int:  # bools are refused by marshmallow, floats may round
            raise Unsure
        return value
    return FastField(load, str if field.as_string else None)


@builder(fields.Boolean)
def _boolean(field: fields.Boolean) -> FastField:
    if field.truthy is not fields.Boolean.truthy or field.falsy is not fields.Boolean.falsy:
        raise NotCompilable("custom truthy/falsy values")

    def load(value):
        if value is not True and value is not False:
            raise Unsure
        return value
    return FastField(load)


@builder(fields.Decimal)
def _decimal(field: fields.Decimal) -> FastField:
    if field.allow_nan:
        raise NotCompilable("NaN allowed")
    places, rounding = field.places, field.rounding

    def number(value) -> decimal.Decimal:
        num = decimal.Decimal(value)
        if not num.is_finite():
            raise Unsure
        return num if places is None else num.quantize(places, rounding=rounding)

    def load(value):
        if type(value) is not str and type(value) is not int:
            raise Unsure
        return number(value)

    def dump(value):
        # marshmallow formats through str() again; a default may still be a string
        return format(number(str(value)), "f")

    if not field.as_string:
        return FastField(load)
    # `dump` of what `load` made: finite and quantized already, and str() then Decimal()
    # gives back the very same Decimal, which quantizing again leaves as it is
    return FastField(load, dump, dump_loaded=_plain_text(places))


def _plain_text(places: decimal.Decimal | None) -> Callable[[decimal.Decimal], str]:
    """format(num, "f") for a finite Decimal quantized to `places`. With at most six places,
    str() writes it alike (it uses an exponent only for an adjusted exponent below -6, and a
    value quantized so has none below -6, zero included) in a third of the time."""
    if places is not None and -6 <= places.as_tuple().exponent <= 0:
        return str
    return lambda num: format(num, "f")


@builder(fields.Enum)
def _enum(field: fields.Enum) -> FastField:
    if field.by_value is not True:
        raise NotCompilable("enum by name or through a field")
    members = {m.value: field.enum(m.value) for m in field.enum if type(m.value) is str}

    def load(value):
        if type(value) is not str or value not in members:
            raise Unsure
        return members[value]

    def dump(member):
        if not isinstance(member, field.enum):
            raise Unsure
        return member.value
    return FastField(load, dump)


@builder(fields.Date)
def _date(field: fields.Date) -> FastField:
    if field.format not in ("iso", "iso8601"):
        raise NotCompilable(f"date format {field.format!r}")

    def load(value):
        if type(value) is not str:
            raise Unsure
        return date.fromisoformat(value)
    return FastField(load, date.isoformat)
