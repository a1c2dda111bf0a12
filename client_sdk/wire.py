"""Turn what an app hands the SDK into the protocol's canonical wire form (docs §4).

Each function raises LocalValidationError naming the field, so a mistake is refused on the
device, before it reaches the outbox, with the same field names the server would use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from client_sdk.errors import LocalValidationError

SHA256 = re.compile(r"^[0-9a-f]{64}$")
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def refuse(field: str, message: str) -> LocalValidationError:
    """The error for one offending field: `field: message`, with `fields` set alike."""
    return LocalValidationError(f"{field}: {message}", {field: [message]})


def utc_text(moment: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with a trailing "Z", to the second."""
    text = moment.astimezone(UTC).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z")


def timestamp(value: datetime | str, field: str) -> str:
    """A timestamp with a time zone as UTC text; a naive one is refused as ambiguous."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise refuse(field, "not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise refuse(field, "not a timestamp")
    if value.tzinfo is None:
        raise refuse(field, "needs a time zone (e.g. a trailing Z)")
    return utc_text(value)


def decimal_text(value: Any, field: str, *, places: int, low: Decimal,
                 high: Decimal | None = None) -> str:
    """A number as a fixed-places decimal string ("5.00"), within [low, high]."""
    if isinstance(value, bool):
        raise refuse(field, "not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise refuse(field, "not a number") from None
    if not number.is_finite() or number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise refuse(field, f"must be {bounds}")
    return str(number.quantize(Decimal(1).scaleb(-places)))


def coordinate(value: Any, field: str, limit: int) -> str | None:
    """A latitude (limit 90) or longitude (limit 180) with six places, or None."""
    if value is None:
        return None
    return decimal_text(value, field, places=6, low=Decimal(-limit), high=Decimal(limit))


def whole_number(value: Any, field: str, *, minimum: int) -> int:
    """An integer (not a bool, not 1.0) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse(field, "must be a whole number")
    if value < minimum:
        raise refuse(field, f"must be at least {minimum}")
    return value


def choice(value: str, field: str, allowed: frozenset[str]) -> str:
    """One of `allowed`."""
    if value not in allowed:
        raise refuse(field, "must be one of " + ", ".join(sorted(allowed)))
    return value


def matching(value: str | None, field: str, pattern: re.Pattern[str], what: str) -> str | None:
    """None, or a string matching `pattern` (described as `what` in the error)."""
    if value is not None and not (isinstance(value, str) and pattern.match(value)):
        raise refuse(field, f"must be {what}")
    return value
