"""What the simulated people do: each action looks at what its actor can see, picks a record
and returns the change to make (or None when there is nothing to act on).

The same actions serve a device (acting on its local view, offline) and the back office
(acting on the server through the records API). Records are picked by a stable label rather
than by id, so a generated example replays the same way although the world's ids are random.
Value pools are small so edits collide, and a few values are invalid on purpose: their
rejections must be recorded too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.protocol import Op

ID_NAMESPACE = uuid.UUID("6f1c2b9e-55a0-4c53-9d0e-2f4b7c1d8e01")

ACCOUNT_EDITS = [("name", "Chez Anna"), ("name", "Bar Centrale"), ("notes", "call before noon"),
                 ("notes", "closed mondays"), ("status", "inactive"), ("status", "active"),
                 ("status", "dormant")]
CONTACT_EDITS = [("first_name", "Ana"), ("first_name", "Bo"), ("title", "Chef"),
                 ("title", None)]
VISIT_STATUSES = ["planned", "checked_in", "completed", "cancelled"]
WORK_ORDER_STATUSES = ["scheduled", "dispatched", "in_progress", "on_hold", "completed",
                       "closed", "cancelled"]
WORK_ORDER_TEXTS = [("resolution", "descaled"), ("resolution", "replaced the pump"),
                    ("description", "makes a noise"), ("signed_by", "A. Nord")]
CHECKLIST_EDITS = [("checked", True), ("checked", False), ("answer", "12 dH"),
                   ("answer", "8 dH")]
ASSET_EDITS = [("notes", "serviced"), ("notes", None), ("serial_number", "SN-1"),
               ("serial_number", "SN-2")]
ORDER_STATUSES = ["draft", "submitted", "approved", "fulfilled", "cancelled"]
STOCK_DELTAS = [-4, -2, -1, 1, 2, 3]


@dataclass(frozen=True)
class Change:
    """One write. `delta` is set for a van stock quantity change (the counter check)."""

    entity: str
    record_id: str
    op: Op
    fields: dict[str, Any] = field(default_factory=dict)
    delta: int | None = None


@dataclass
class Names:
    """Stable labels for record ids, and ids for new records that replay alike."""

    territories: dict[str, str]
    technicians: dict[str, str]
    parts: list[str]
    products: list[str]
    price_list: str
    labels: dict[str, str] = field(default_factory=dict)
    made: int = 0

    def new_id(self, entity: str) -> str:
        self.made += 1
        record_id = str(uuid.uuid5(ID_NAMESPACE, f"{entity}-{self.made}"))
        self.labels[record_id] = f"~{entity}-{self.made:04d}"
        return record_id

    def technician_ids(self) -> list[str]:
        return [self.technicians[name] for name in sorted(self.technicians)]

    def pick(self, records: list[dict[str, Any]], target: int) -> dict[str, Any] | None:
        if not records:
            return None
        ordered = sorted(records, key=lambda r: self.labels.get(r["id"], r["id"]))
        return ordered[target % len(ordered)]


View = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Context:
    """Who acts (user id and role), what they can see, and the world's names."""

    user_id: str
    role: str
    view: View
    names: Names

    def pick(self, entity: str, target: int, **equals: Any) -> dict[str, Any] | None:
        records = [r for r in self.view(entity)
                   if all(r.get(k) == v for k, v in equals.items())]
        return self.names.pick(records, target)


Action = Callable[[Context, int, int], Change | None]


def _choose(values: list, choice: int):
    return values[choice % len(values)]


def _set(entity: str, pool: list[tuple[str, Any]]) -> Action:
    """An action setting one field of a visible `entity` to a value from `pool`."""

    def act(ctx: Context, target: int, choice: int) -> Change | None:
        record = ctx.pick(entity, target)
        if record is None:
            return None
        name, value = _choose(pool, choice)
        return Change(entity, record["id"], Op.UPDATE, {name: value})

    return act


def _status(entity: str, statuses: list[str]) -> Action:
    return _set(entity, [("status", s) for s in statuses])


def _delete(entity: str) -> Action:
    def act(ctx: Context, target: int, choice: int) -> Change | None:
        record = ctx.pick(entity, target)
        return None if record is None else Change(entity, record["id"], Op.DELETE)

    return act


def add_contact(ctx: Context, target: int, choice: int) -> Change | None:
    account = ctx.pick("account", target)
    if account is None:
        return None
    return Change("contact", ctx.names.new_id("contact"), Op.CREATE, {
        "account_id": account["id"], "first_name": _choose(["Ana", "Bo", "Cy"], choice),
        "last_name": "Field"})


def add_visit(ctx: Context, target: int, choice: int) -> Change | None:
    account = ctx.pick("account", target)
    if account is None:
        return None
    return Change("visit", ctx.names.new_id("visit"), Op.CREATE, {
        "account_id": account["id"], "rep_id": ctx.user_id,
        "status": _choose(["planned", "checked_in"], choice), "notes": "drop by"})


def add_account(ctx: Context, target: int, choice: int) -> Change | None:
    territory = _choose(sorted(ctx.names.territories), choice)  # another territory: refused
    return Change("account", ctx.names.new_id("account"), Op.CREATE, {
        "territory_id": ctx.names.territories[territory], "name": f"New shop {territory}"})


def add_order(ctx: Context, target: int, choice: int) -> Change | None:
    account = ctx.pick("account", target)
    if account is None:
        return None
    return Change("order", ctx.names.new_id("order"), Op.CREATE, {
        "account_id": account["id"], "rep_id": ctx.user_id,
        "price_list_id": ctx.names.price_list, "status": _choose(["draft", "submitted"], choice)})


def add_order_line(ctx: Context, target: int, choice: int) -> Change | None:
    order = ctx.pick("order", target)
    if order is None:
        return None
    return Change("order_line", ctx.names.new_id("order_line"), Op.CREATE, {
        "order_id": order["id"], "product_id": _choose(ctx.names.products, choice),
        "quantity": 1 + choice % 3})


def count_parts(ctx: Context, target: int, choice: int) -> Change | None:
    stock = ctx.pick("van_stock", target)
    if stock is None:
        return None
    delta = _choose(STOCK_DELTAS, choice)
    return Change("van_stock", stock["id"], Op.UPDATE, {"quantity": stock["quantity"] + delta},
                  delta=delta)


def log_time(ctx: Context, target: int, choice: int) -> Change | None:
    order = ctx.pick("work_order", target)
    if order is None:
        return None
    return Change("time_entry", ctx.names.new_id("time_entry"), Op.CREATE, {
        "work_order_id": order["id"], "technician_id": ctx.user_id, "kind": "labor",
        "started_at": "2026-11-23T08:00:00Z", "minutes": 15 * (1 + choice % 4)})


def use_part(ctx: Context, target: int, choice: int) -> Change | None:
    order = ctx.pick("work_order", target)
    if order is None:
        return None
    return Change("part_used", ctx.names.new_id("part_used"), Op.CREATE, {
        "work_order_id": order["id"], "part_id": _choose(ctx.names.parts, choice),
        "quantity": 1 + choice % 3})


def move_account(ctx: Context, target: int, choice: int) -> Change | None:
    account = ctx.pick("account", target)
    if account is None:
        return None
    territories = [ctx.names.territories[code] for code in sorted(ctx.names.territories)]
    others = [t for t in territories if t != account["territory_id"]]
    return Change("account", account["id"], Op.UPDATE,
                  {"territory_id": _choose(others, choice)})


def reassign_work_order(ctx: Context, target: int, choice: int) -> Change | None:
    order = ctx.pick("work_order", target)
    if order is None:
        return None
    others = [t for t in [*ctx.names.technician_ids(), None] if t != order["technician_id"]]
    return Change("work_order", order["id"], Op.UPDATE,
                  {"technician_id": _choose(others, choice)})


def add_work_order(ctx: Context, target: int, choice: int) -> Change | None:
    account = ctx.pick("account", target)
    if account is None:
        return None
    technician = _choose(ctx.names.technician_ids(), choice)
    return Change("work_order", ctx.names.new_id("work_order"), Op.CREATE, {
        "account_id": account["id"], "technician_id": technician, "title": "Inspection",
        "status": "scheduled"})


edit_account = _set("account", ACCOUNT_EDITS)
edit_contact = _set("contact", CONTACT_EDITS)
set_visit_status = _status("visit", VISIT_STATUSES)
set_work_order_status = _status("work_order", WORK_ORDER_STATUSES)
write_up_work_order = _set("work_order", WORK_ORDER_TEXTS)
answer_checklist = _set("checklist_item", CHECKLIST_EDITS)
edit_asset = _set("asset", ASSET_EDITS)
set_order_status = _status("order", ORDER_STATUSES)
delete_contact = _delete("contact")
delete_visit = _delete("visit")

REP_ACTIONS: dict[str, Action] = {
    "edit_account": edit_account, "edit_contact": edit_contact, "add_contact": add_contact,
    "add_visit": add_visit, "set_visit_status": set_visit_status, "add_account": add_account,
    "delete_contact": delete_contact, "delete_visit": delete_visit, "add_order": add_order,
    "add_order_line": add_order_line, "set_order_status": set_order_status}
TECHNICIAN_ACTIONS: dict[str, Action] = {
    "count_parts": count_parts, "set_work_order_status": set_work_order_status,
    "write_up_work_order": write_up_work_order, "answer_checklist": answer_checklist,
    "log_time": log_time, "use_part": use_part, "edit_asset": edit_asset}
OFFICE_ACTIONS: dict[str, Action] = {
    "move_account": move_account, "reassign_work_order": reassign_work_order,
    "add_work_order": add_work_order, "edit_account": edit_account,
    "edit_contact": edit_contact, "set_work_order_status": set_work_order_status,
    "count_parts": count_parts, "add_visit": add_visit, "delete_contact": delete_contact,
    "delete_visit": delete_visit, "delete_order": _delete("order"),
    "delete_work_order": _delete("work_order"), "delete_account": _delete("account")}
ACTIONS_BY_ROLE = {"rep": REP_ACTIONS, "technician": TECHNICIAN_ACTIONS,
                   "back_office": OFFICE_ACTIONS, "dispatcher": OFFICE_ACTIONS}
