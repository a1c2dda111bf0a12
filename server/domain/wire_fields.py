"""marshmallow fields for fieldsync's wire formats: UUID strings, UTC timestamps, money."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from marshmallow import ValidationError, fields, validate

from server.fast_fields import FastField, Unsure, builder
from sync.ids import CANONICAL_UUID


class UUIDString(fields.String):
    """A UUID, kept as its canonical lowercase string."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError as exc:
            raise self.make_error("invalid_uuid") from exc


class UTCDateTime(fields.Field):
    """ISO 8601 with an explicit offset on the way in; UTC with a `Z` on the way out.

    Naive timestamps are refused: a device's local time without a zone is ambiguous.
    """

    default_error_messages = {
        "invalid": "Not a valid ISO 8601 timestamp.",
        "naive": "The timestamp needs a time zone (e.g. a trailing Z).",
    }

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            value = self._deserialize(value, attr, obj)
        text = value.astimezone(UTC).isoformat()
        return text.replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value))
            except ValueError as exc:
                raise self.make_error("invalid") from exc
        if parsed.tzinfo is None:
            raise self.make_error("naive")
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise self.make_error("invalid") from exc


@builder(UUIDString)
def _fast_uuid(field: UUIDString) -> FastField:
    """A UUID already in canonical form is its own canonical form; others ask marshmallow."""
    def load(value):
        if type(value) is not str or CANONICAL_UUID.fullmatch(value) is None:
            raise Unsure
        return value
    return FastField(load)


@builder(UTCDateTime)
def _fast_timestamp(field: UTCDateTime) -> FastField:
    def load(value):
        if type(value) is not str:
            raise Unsure
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise Unsure
        return parsed.astimezone(UTC)

    def dump(value):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return FastField(load, dump)


def money(**kwargs) -> fields.Decimal:
    """An exact amount with two decimals, sent as a string ("12.50"); never negative."""
    return fields.Decimal(places=2, as_string=True, validate=validate.Range(min=0), **kwargs)


def coordinate(limit: int, **kwargs) -> fields.Decimal:
    return fields.Decimal(places=6, as_string=True, allow_none=True,
                          validate=validate.Range(min=-limit, max=limit), **kwargs)


def text(max_length: int, *, required: bool = False, **kwargs) -> fields.String:
    """A string of at most `max_length` characters; a required one is not empty. Every
    text field has a limit: one record's data is always small next to a request or a page."""
    checks = [validate.Length(min=1 if required else 0, max=max_length)]
    return fields.String(required=required, allow_none=not required, validate=checks, **kwargs)


class Pattern(validate.Regexp):
    """The whole value matches `regex` (validate.Regexp only anchors at the start, and its
    `$` also matches before a final newline). The pattern is published as written, so it
    keeps to the syntax JavaScript and JSON Schema share."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def formatted(regex: str, max_length: int, meaning: str, **kwargs) -> fields.String:
    """A string of at most `max_length` characters matching `regex` whole; `meaning` says
    in words what the pattern asks (the entity reference shows it)."""
    checks = [validate.Length(max=max_length), Pattern(regex)]
    kwargs.setdefault("allow_none", not kwargs.get("required", False))
    return fields.String(validate=checks, metadata={"format": meaning}, **kwargs)


INT32_MAX = 2**31 - 1  # INTEGER columns hold this much on PostgreSQL (SQLite holds more)


def count(*, minimum: int = 0, maximum: int = INT32_MAX, required: bool = True,
          **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, required=required,
                          validate=validate.Range(min=minimum, max=maximum), **kwargs)


def ref(*, required: bool = True, **kwargs) -> UUIDString:
    return UUIDString(required=required, allow_none=not required, **kwargs)


def timestamp(*, required: bool = False, **kwargs) -> UTCDateTime:
    return UTCDateTime(required=required, allow_none=not required, **kwargs)
