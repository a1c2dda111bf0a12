"""Numeric and date bounds of the field domain that depend on who writes, or on today.

The server's rules (server.domain.rules) enforce them; the client SDK checks the same values
before queueing. Like the vocabulary, this module imports nothing of the app.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from server.domain.vocabulary import Role

# The largest discount on an order line each role may give, in percent.
DISCOUNT_CAP = {Role.REP: Decimal(20), Role.TECHNICIAN: Decimal(0),
                Role.DISPATCHER: Decimal(20), Role.BACK_OFFICE: Decimal(100),
                Role.ADMIN: Decimal(100)}

# A visit is planned between these: no typo's 1999, no 2099.
EARLIEST_VISIT = datetime(2000, 1, 1, tzinfo=UTC)
VISIT_HORIZON = timedelta(days=2 * 366)

# How far ahead of the server's clock a device's clock may run: time is logged after it
# was spent, so a time entry may not start or end later than now plus this.
CLOCK_SKEW = timedelta(minutes=5)


def discount_cap(role: str) -> Decimal:
    return DISCOUNT_CAP.get(role, Decimal(0))


def visit_time_refusal(planned_at: datetime, now: datetime) -> str | None:
    """Why a visit may not be planned at `planned_at` (aware), or None."""
    if planned_at < EARLIEST_VISIT:
        return f"must not be before {EARLIEST_VISIT.year}"
    if planned_at > now + VISIT_HORIZON:
        return "must be within two years from now"
    return None


def logged_time_refusal(moment: datetime, now: datetime) -> str | None:
    """Why time logged at `moment` (aware) is refused, or None: it lies in the future."""
    if moment > now + CLOCK_SKEW:
        return "must not be in the future"
    return None
