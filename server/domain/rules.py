"""Who may write what, and the field domain's checks and server-computed fields.

Authorizers (sync.entities.Authorizer) get the actor, the operation, the record as it is
(None on create), the fields it sends, and a lookup of other records. Ownership is checked on
both sides: a rep or technician may change only a record that is theirs now and stays theirs.
Children follow their parent: an order's lines belong to the order's rep and lock with its
state; a work order's parts, time, checklist and attachments lock when it is closed.
Workflows (status moves) are the engine's to enforce, from server.domain.workflows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from server.domain import bounds
from server.domain.vocabulary import OFFICE_ROLES, Role
from server.domain.workflows import LINES_OPEN, WORK_OPEN
from sync.entities import Actor, Authorizer, FieldErrors, Lookup
from sync.errors import MutationRejected

OFFICE = frozenset(str(r) for r in OFFICE_ROLES)
CATALOG_WRITERS = frozenset({str(Role.BACK_OFFICE), str(Role.ADMIN)})
SALES = OFFICE | {str(Role.REP)}
SERVICE = OFFICE | {str(Role.TECHNICIAN)}

# What a technician may change on a work order assigned to them.
TECHNICIAN_WORK_ORDER_FIELDS = frozenset(
    {"status", "started_at", "completed_at", "resolution", "signed_by", "description"}
)
# What a technician may change on a checklist item: the answer, never the question.
TECHNICIAN_CHECKLIST_FIELDS = frozenset({"checked", "answer", "answered_at"})


def roles(allowed: frozenset[str]) -> Authorizer:
    """An authorizer admitting only `allowed` roles (scope is checked by the engine)."""

    def authorize(actor: Actor, op: str, current, changes, lookup) -> str | None:
        if actor.role not in allowed:
            return f"a {actor.role} may not change this"
        return None

    return authorize


def all_of(*authorizers: Authorizer) -> Authorizer:
    """An authorizer refusing what any of `authorizers` refuses (the first reason)."""

    def authorize(actor: Actor, op: str, current, changes, lookup) -> str | None:
        for check in authorizers:
            reason = check(actor, op, current, changes, lookup)
            if reason:
                return reason
        return None

    return authorize


def own_record(field: str, allowed: frozenset[str]) -> Authorizer:
    """Roles in `allowed`; a rep or technician only for records whose `field` is themselves,
    before the change (its current owner) and after it (the owner it sends)."""
    by_role = roles(allowed)

    def authorize(actor: Actor, op: str, current, changes, lookup) -> str | None:
        reason = by_role(actor, op, current, changes, lookup)
        if reason or actor.role in OFFICE:
            return reason
        if current is not None and current.get(field) != actor.user_id:
            return f"this record's {field} is someone else: only they or the office may change it"
        if field in changes and changes[field] != actor.user_id:
            return f"{field} must be yourself"
        return None

    return authorize


def work_order_authorize(actor: Actor, op: str, current, changes, lookup) -> str | None:
    if actor.role in OFFICE:
        return None
    if actor.role != Role.TECHNICIAN or op != "update":
        return "only dispatchers create or delete work orders"
    extra = set(changes) - TECHNICIAN_WORK_ORDER_FIELDS
    if extra:
        return "a technician may not change " + ", ".join(sorted(extra))
    return None


def _parents(field: str, current, changes) -> Iterator[str]:
    """The parent ids a child names before and after the change (one, unless it moves)."""
    for record in (current, changes):
        if record and record.get(field):
            yield record[field]


class RecordLocked(MutationRejected):
    """The record's parent is in a state that locks its children for this writer."""

    code = "record_locked"

    def __init__(self, message: str, **fields: list[str]):
        super().__init__(self.code, message, fields=fields)


def order_line_authorize(actor: Actor, op: str, current, changes, lookup: Lookup
                         ) -> str | None:
    """A line follows its order: a rep changes lines only of her own draft orders, the
    office until the order is fulfilled or cancelled; discounts are capped per role."""
    reason = roles(SALES)(actor, op, current, changes, lookup)
    if reason:
        return reason
    _cap_discount(actor, changes)
    for order_id in _parents("order_id", current, changes):
        order = lookup.get("order", order_id)
        if order is None or actor.role == Role.ADMIN:
            continue  # a missing order is the engine's to report
        if actor.role == Role.REP and order["rep_id"] != actor.user_id:
            return "the order belongs to another rep"
        if order["status"] not in LINES_OPEN.get(actor.role, ()):
            raise RecordLocked(f"the order is {order['status']}: a {actor.role} may not change its "
                         "lines", order_id=[f"order is {order['status']}"])
    return None


def _cap_discount(actor: Actor, changes: Mapping[str, Any]) -> None:
    discount = changes.get("discount_pct")
    cap = bounds.discount_cap(actor.role)
    if discount is not None and Decimal(discount) > cap:
        raise FieldErrors({"discount_pct": [f"a {actor.role} may give at most {cap}%"]})


def work_child(technician_fields: frozenset[str] | None = None) -> Authorizer:
    """An authorizer for what a technician records on a work order: service roles, whose
    work order (scope: a technician's own) is not closed or cancelled. With
    `technician_fields`, a technician may only update those fields (the office creates and
    deletes). The admin may still correct a closed work order's records."""
    by_role = roles(SERVICE)

    def authorize(actor: Actor, op: str, current, changes, lookup: Lookup) -> str | None:
        reason = by_role(actor, op, current, changes, lookup)
        if reason:
            return reason
        if technician_fields is not None and actor.role == Role.TECHNICIAN:
            if op != "update":
                return "only the office adds or removes these"
            extra = set(changes) - technician_fields
            if extra:
                return "a technician may not change " + ", ".join(sorted(extra))
        for wo_id in _parents("work_order_id", current, changes):
            work_order = lookup.get("work_order", wo_id)
            if work_order is not None and actor.role != Role.ADMIN \
                    and work_order["status"] not in WORK_OPEN:
                raise RecordLocked(f"the work order is {work_order['status']}: its records are "
                             "locked", work_order_id=[f"work order is {work_order['status']}"])
        return None

    return authorize


# -- checks of the whole record ---------------------------------------------------------------

Check = Callable[[Mapping[str, Any] | None, Mapping[str, Any]], dict[str, list[str]]]


def _changed_times(old, new, names: tuple[str, ...]) -> Iterator[tuple[str, datetime]]:
    """The timestamps among `names` that the write sets (new, or different from `old`)."""
    for name in names:
        value = new.get(name)
        if value and (old is None or old.get(name) != value):
            yield name, datetime.fromisoformat(value)


def visit_check(old, new) -> dict[str, list[str]]:
    """A visit is planned between 2000 and two years from now."""
    errors = {}
    for name, moment in _changed_times(old, new, ("planned_at",)):
        reason = bounds.visit_time_refusal(moment, datetime.now(UTC))
        if reason:
            errors[name] = [reason]
    return errors


def time_entry_check(old, new) -> dict[str, list[str]]:
    """A time entry ends after it starts, and neither lies in the future."""
    errors = {}
    for name, moment in _changed_times(old, new, ("started_at", "ended_at")):
        reason = bounds.logged_time_refusal(moment, datetime.now(UTC))
        if reason:
            errors[name] = [reason]
    ended, started = new.get("ended_at"), new["started_at"]
    if ended and datetime.fromisoformat(ended) < datetime.fromisoformat(started):
        errors["ended_at"] = ["must not be before started_at"]
    return errors


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
