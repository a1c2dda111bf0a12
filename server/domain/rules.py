"""Who may write what, state-machine guards and server-computed fields of the field domain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from server.models import OFFICE_ROLES, Role
from sync.entities import Actor, FieldErrors, Lookup

OFFICE = frozenset(str(r) for r in OFFICE_ROLES)
CATALOG_WRITERS = frozenset({str(Role.BACK_OFFICE), str(Role.ADMIN)})
SALES = OFFICE | {str(Role.REP)}
SERVICE = OFFICE | {str(Role.TECHNICIAN)}

# What a technician may change on a work order assigned to them.
TECHNICIAN_WORK_ORDER_FIELDS = frozenset(
    {"status", "started_at", "completed_at", "resolution", "signed_by", "description"}
)
TERMINAL = {
    "work_order": frozenset({"closed", "cancelled"}),
    "order": frozenset({"fulfilled", "cancelled"}),
    "visit": frozenset({"completed", "cancelled"}),
}


def roles(allowed: frozenset[str]):
    """An authorizer admitting only `allowed` roles (scope is checked by the engine)."""

    def authorize(actor: Actor, op: str, current, changes) -> str | None:
        if actor.role not in allowed:
            return f"a {actor.role} may not change this"
        return None

    return authorize


def own_record(field: str, allowed: frozenset[str]):
    """Roles in `allowed`; a rep or technician only for records whose `field` is themselves."""
    by_role = roles(allowed)

    def authorize(actor: Actor, op: str, current, changes) -> str | None:
        reason = by_role(actor, op, current, changes)
        if reason or actor.role in OFFICE:
            return reason
        owner = changes.get(field, (current or {}).get(field))
        if owner != actor.user_id:
            return f"{field} must be yourself"
        return None

    return authorize


def work_order_authorize(actor: Actor, op: str, current, changes) -> str | None:
    if actor.role in OFFICE:
        return None
    if actor.role != Role.TECHNICIAN or op != "update":
        return "only dispatchers create or delete work orders"
    extra = set(changes) - TECHNICIAN_WORK_ORDER_FIELDS
    if extra:
        return "a technician may not change " + ", ".join(sorted(extra))
    return None


def terminal_state_check(entity: str):
    """A record in a terminal state keeps its status (closed stays closed)."""
    terminal = TERMINAL[entity]

    def check(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, list[str]]:
        if old and old.get("status") in terminal and new.get("status") != old["status"]:
            return {"status": [f"a {old['status']} {entity} cannot change status"]}
        return {}

    return check


def time_entry_check(old, new) -> dict[str, list[str]]:
    ended, started = new.get("ended_at"), new["started_at"]
    if ended and datetime.fromisoformat(ended) < datetime.fromisoformat(started):
        return {"ended_at": ["must not be before started_at"]}
    return {}


def price_list_check(old, new) -> dict[str, list[str]]:
    if new.get("valid_to") and new["valid_to"] < new["valid_from"]:
        return {"valid_to": ["must not be before valid_from"]}
    return {}


CENT = Decimal("0.01")


def price_order_line(lookup: Lookup, line: dict[str, Any]) -> dict[str, Any]:
    """The server prices every line from its order's price list: that price is final."""
    order = lookup.get("order", line["order_id"])
    if order is None:
        return line  # the engine rejects the missing reference
    price = lookup.find("price", price_list_id=order["price_list_id"],
                        product_id=line["product_id"])
    if price is None:
        raise FieldErrors({"product_id": ["not on the order's price list"]})
    unit = Decimal(price["unit_price"])
    discount = Decimal(line.get("discount_pct") or "0")
    total = (unit * line["quantity"] * (100 - discount) / 100).quantize(CENT, ROUND_HALF_UP)
    return {**line, "unit_price": str(unit.quantize(CENT)), "line_total": str(total)}
