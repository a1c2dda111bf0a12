"""Pricing order lines on the device from the local replica's price list.

The device's price is an estimate that lets a rep quote a total offline: the server prices
every line again from the order's price list (server/domain/rules.price_order_line) and that
price is final. The arithmetic here is the server's, so the estimate agrees with it whenever
the local price list is current; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PricedLine:
    """One order line as the device priced it (decimal strings, as on the wire)."""

    line_id: str
    product_id: str
    quantity: int
    discount_pct: str
    unit_price: str
    line_total: str


def line_total(unit_price: str, quantity: int, discount_pct: str | None) -> str:
    """unit price times quantity less the discount, rounded to the cent as the server does."""
    unit, discount = Decimal(unit_price), Decimal(discount_pct or "0")
    return str((unit * quantity * (100 - discount) / 100).quantize(CENT, ROUND_HALF_UP))


def order_total(totals: Iterable[str]) -> str:
    """The sum of line totals, as a money string."""
    return str(sum((Decimal(t) for t in totals), Decimal("0")).quantize(CENT))


def is_current(price_list: Mapping[str, Any], today: date) -> bool:
    """Active, and `today` within [valid_from, valid_to] (an open end has no valid_to)."""
    if price_list.get("active") is False:
        return False
    valid_to = price_list.get("valid_to")
    return (price_list["valid_from"] <= today.isoformat()
            and (valid_to is None or today.isoformat() <= valid_to))


def current_price_list(price_lists: Iterable[Mapping[str, Any]],
                       today: date) -> Mapping[str, Any] | None:
    """The current price list; of several, the one that started last (the newest prices)."""
    current = [p for p in price_lists if is_current(p, today)]
    return max(current, key=lambda p: (p["valid_from"], p["id"]), default=None)
