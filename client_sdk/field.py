"""What a field app does, as operations on the offline replica: visits, orders, work orders.

Every operation works with no network: it checks what it can against the local replica,
refuses a local mistake with LocalValidationError (naming the field), and otherwise writes
through SyncClient, one outbox entry per record, in the order the server needs them. The
server stays the judge: its rules and prices are final and flow back on the next sync.

    field = FieldActions(client)
    visit_id = field.plan_visit(account_id, "2026-11-24T09:00:00+01:00")
    field.check_in(visit_id, latitude=52.52, longitude=13.405)
    order = field.create_order(account_id, [(product_id, 3, "5")], visit_id=visit_id)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from client_sdk import wire
from client_sdk.client import SyncClient
from client_sdk.errors import NotLoggedIn
from client_sdk.pricing import PricedLine, current_price_list, line_total, order_total
from client_sdk.wire import refuse
from server.domain import bounds
from server.domain.vocabulary import OrderStatus, VisitStatus, WorkOrderStatus
from server.domain.workflows import WORK_OPEN
from sync.ids import new_id

# (product_id, quantity) or (product_id, quantity, discount_pct)
LineSpec = Sequence[Any]

ACCOUNT_FIELDS = frozenset({"account_number", "status", "phone", "email", "street", "city",
                            "postal_code", "country", "latitude", "longitude", "notes"})
ACCOUNT_STATUSES = frozenset({"prospect", "active", "inactive"})
TIME_KINDS = frozenset({"labor", "travel"})
ATTACHMENT_KINDS = frozenset({"photo", "signature"})


@dataclass(frozen=True)
class CreatedOrder:
    """An order written offline, with its lines as the device priced them."""

    order_id: str
    price_list_id: str
    lines: tuple[PricedLine, ...]
    total: str


@dataclass(frozen=True)
class NewCustomer:
    """The records create_account_with_order wrote."""

    account_id: str
    visit_id: str
    order: CreatedOrder


class FieldActions:
    """Field operations for reps and technicians on top of a SyncClient; all work offline.

    `now` returns the current aware datetime (tests pass a fixed clock). Every method raises
    LocalValidationError for a local mistake (an unknown record, a bad value) and NotLoggedIn
    on a replica that was never signed in.
    """

    def __init__(self, client: SyncClient, *, now: Callable[[], datetime] | None = None):
        self.client = client
        self._now = now or (lambda: datetime.now(UTC))

    # -- shared --------------------------------------------------------------------------

    def _user_id(self) -> str:
        user = self.client.user
        if user is None:
            raise NotLoggedIn("sign in once before working offline")
        return user["id"]

    def _record(self, entity: str, record_id: str, field: str) -> dict[str, Any]:
        record = self.client.get(entity, record_id)
        if record is None:
            raise refuse(field, f"no {entity.replace('_', ' ')} {record_id} here")
        return record

    def _stamp(self) -> str:
        return wire.utc_text(self._now())

    # -- sales: visits ---------------------------------------------------------------------

    def plan_visit(self, account_id: str, planned_at: datetime | str,
                   notes: str | None = None) -> str:
        """Plan a visit of the signed-in rep to an account; returns the visit id.

        Raises LocalValidationError for an unknown account or a timestamp without a zone.
        """
        self._record("account", account_id, "account_id")
        planned_at = wire.timestamp(planned_at, "planned_at")
        reason = bounds.visit_time_refusal(datetime.fromisoformat(planned_at), self._now())
        if reason:
            raise refuse("planned_at", reason)
        return self.client.create("visit", {
            "account_id": account_id, "rep_id": self._user_id(),
            "status": VisitStatus.PLANNED, "planned_at": planned_at, "notes": notes})

    def check_in(self, visit_id: str, latitude: float | str | None = None,
                 longitude: float | str | None = None) -> None:
        """Check in at a visit now, optionally where (decimal degrees).

        Raises LocalValidationError for an unknown, completed or cancelled visit or an
        out-of-range coordinate.
        """
        visit = self._record("visit", visit_id, "visit_id")
        if visit.get("status") in (VisitStatus.COMPLETED, VisitStatus.CANCELLED):
            raise refuse("status", f"the visit is {visit['status']}")
        fields = {"status": VisitStatus.CHECKED_IN, "checked_in_at": self._stamp()}
        if (latitude is None) != (longitude is None):
            raise refuse("longitude" if longitude is None else "latitude",
                         "latitude and longitude go together")
        if latitude is not None:
            fields["latitude"] = wire.coordinate(latitude, "latitude", 90)
            fields["longitude"] = wire.coordinate(longitude, "longitude", 180)
        self.client.update("visit", visit_id, fields)

    def complete_visit(self, visit_id: str, outcome: str, notes: str | None = None) -> None:
        """Complete a visit now with its outcome (and notes, when given).

        Raises LocalValidationError for an unknown or cancelled visit or an empty outcome.
        """
        visit = self._record("visit", visit_id, "visit_id")
        if visit.get("status") == VisitStatus.CANCELLED:
            raise refuse("status", "the visit is cancelled")
        if not outcome or len(outcome) > 200:
            raise refuse("outcome", "must be 1 to 200 characters")
        fields = {"status": VisitStatus.COMPLETED, "completed_at": self._stamp(),
                  "outcome": outcome}
        if notes is not None:
            fields["notes"] = notes
        self.client.update("visit", visit_id, fields)

    # -- sales: accounts and orders ----------------------------------------------------------

    def create_account(self, territory_id: str, name: str, **fields: Any) -> str:
        """Create an account in one of the rep's territories; returns its id.

        `fields` are further account fields (city="Berlin", phone=..., latitude=...).
        Raises LocalValidationError for an unknown territory or field, or a bad value.
        """
        return self.client.create("account", self._account(territory_id, name, fields))

    def _account(self, territory_id: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._record("territory", territory_id, "territory_id")
        unknown = sorted(set(fields) - ACCOUNT_FIELDS)
        if unknown:
            raise refuse(unknown[0], "not an account field")
        if not isinstance(name, str) or not 0 < len(name) <= 200:
            raise refuse("name", "must be 1 to 200 characters")
        account = {"territory_id": territory_id, "name": name, "status": "active", **fields}
        wire.choice(account["status"], "status", ACCOUNT_STATUSES)
        for field, limit in (("latitude", 90), ("longitude", 180)):
            if field in account:
                account[field] = wire.coordinate(account[field], field, limit)
        if account.get("country") is not None:
            account["country"] = str(account["country"]).upper()
        return account

    def create_order(self, account_id: str, lines: Iterable[LineSpec], *,
                     visit_id: str | None = None, notes: str | None = None,
                     price_list_id: str | None = None) -> CreatedOrder:
        """Create a draft order with its lines, priced from the local price list.

        `lines` are (product_id, quantity) or (product_id, quantity, discount_pct). The
        current price list is used unless `price_list_id` names one. Each line's unit price
        and total are the device's estimate; the server prices again and its price is final.
        Raises LocalValidationError for an unknown account or visit, no current price list,
        a product not on it, a quantity below 1 or a discount outside 0 to the role's cap
        (docs §10.4); nothing is written then.
        """
        self._record("account", account_id, "account_id")
        if visit_id is not None:
            visit = self._record("visit", visit_id, "visit_id")
            if visit.get("account_id") != account_id:
                raise refuse("visit_id", "the visit is at another account")
        price_list_id, priced = self._price(lines, price_list_id)
        return self._write_order(account_id, visit_id, notes, price_list_id, priced)

    def _price(self, lines: Iterable[LineSpec],
               price_list_id: str | None) -> tuple[str, list[PricedLine]]:
        if price_list_id is None:
            found = current_price_list(self.client.query("price_list"), self._now().date())
            if found is None:
                raise refuse("price_list_id", "no current price list here; sync first")
            price_list_id = found["id"]
        else:
            self._record("price_list", price_list_id, "price_list_id")
        prices = {p["product_id"]: p["unit_price"]
                  for p in self.client.query("price", price_list_id=price_list_id)}
        priced = [self._price_line(i, spec, prices) for i, spec in enumerate(lines)]
        if not priced:
            raise refuse("lines", "an order needs at least one line")
        return price_list_id, priced

    def _price_line(self, index: int, spec: LineSpec, prices: dict[str, str]) -> PricedLine:
        at = f"lines.{index}"
        if not isinstance(spec, Sequence) or isinstance(spec, str | bytes) or (
                len(spec) not in (2, 3)):
            raise refuse(at, "expected (product_id, quantity[, discount_pct])")
        product_id, quantity, discount = (*spec, "0")[:3]
        quantity = wire.whole_number(quantity, f"{at}.quantity", minimum=1)
        cap = bounds.discount_cap((self.client.user or {}).get("role"))
        discount = wire.decimal_text(discount, f"{at}.discount_pct", places=2,
                                     low=Decimal(0), high=min(cap, Decimal(100)))
        if product_id not in prices:
            raise refuse(f"{at}.product_id", "not on the price list")
        unit = prices[product_id]
        return PricedLine(new_id(), product_id, quantity, discount, unit,
                          line_total(unit, quantity, discount))

    def _write_order(self, account_id: str, visit_id: str | None, notes: str | None,
                     price_list_id: str, priced: list[PricedLine]) -> CreatedOrder:
        order_id = self.client.create("order", {
            "account_id": account_id, "rep_id": self._user_id(), "visit_id": visit_id,
            "price_list_id": price_list_id, "status": OrderStatus.DRAFT,
            "ordered_at": self._stamp(),
            "notes": notes})
        for line in priced:
            # line_total is server-owned: it is never sent, order_lines() derives it.
            self.client.create("order_line", {
                "order_id": order_id, "product_id": line.product_id,
                "quantity": line.quantity, "discount_pct": line.discount_pct,
                "unit_price": line.unit_price}, record_id=line.line_id)
        return CreatedOrder(order_id, price_list_id, tuple(priced),
                            order_total(line.line_total for line in priced))

    def order_lines(self, order_id: str) -> list[PricedLine]:
        """The order's lines with prices: the server's once synced, else the device's."""
        self._record("order", order_id, "order_id")
        return [PricedLine(line["id"], line["product_id"], line["quantity"],
                           line.get("discount_pct") or "0.00", line["unit_price"],
                           line.get("line_total") or line_total(
                               line["unit_price"], line["quantity"], line.get("discount_pct")))
                for line in self.client.query("order_line", order_id=order_id)]

    def submit_order(self, order_id: str) -> None:
        """Submit a draft (or rejected) order to the office.

        Raises LocalValidationError for an unknown order, one in another state, or one
        without lines.
        """
        order = self._record("order", order_id, "order_id")
        if order.get("status") not in (OrderStatus.DRAFT, OrderStatus.REJECTED):
            raise refuse("status", f"the order is {order.get('status')}, not a draft")
        if not self.client.query("order_line", order_id=order_id):
            raise refuse("lines", "an order needs at least one line")
        self.client.update("order", order_id, {"status": OrderStatus.SUBMITTED})

    def create_account_with_order(self, territory_id: str, name: str, lines: Iterable[LineSpec],
                                  *, visit_notes: str | None = None,
                                  order_notes: str | None = None,
                                  **account_fields: Any) -> NewCustomer:
        """A new customer on the spot: the account, a visit checked in now, a draft order.

        Everything is checked before anything is written; then each record is its own
        outbox entry, parents first. Raises LocalValidationError as create_account and
        create_order do.
        """
        account = self._account(territory_id, name, account_fields)
        price_list_id, priced = self._price(lines, None)
        with self.client.atomic():  # all of it or none of it, whatever happens to the laptop
            account_id = self.client.create("account", account)
            now = self._stamp()
            visit_id = self.client.create("visit", {
                "account_id": account_id, "rep_id": self._user_id(),
                "status": VisitStatus.CHECKED_IN,
                "planned_at": now, "checked_in_at": now, "notes": visit_notes})
            order = self._write_order(account_id, visit_id, order_notes, price_list_id, priced)
        return NewCustomer(account_id, visit_id, order)

    # -- service: work orders ----------------------------------------------------------------

    def _work_order(self, wo_id: str) -> dict[str, Any]:
        work_order = self._record("work_order", wo_id, "work_order_id")
        if work_order.get("status") not in WORK_OPEN:
            raise refuse("status", f"the work order is {work_order['status']}")
        return work_order

    def start_work_order(self, wo_id: str) -> None:
        """Start work now: status in_progress; started_at is kept if it was set before.

        Raises LocalValidationError for an unknown, completed, closed or cancelled work order.
        """
        work_order = self._work_order(wo_id)
        if work_order.get("status") == WorkOrderStatus.COMPLETED:
            raise refuse("status", "the work order is completed")
        fields = {"status": WorkOrderStatus.IN_PROGRESS}
        if not work_order.get("started_at"):
            fields["started_at"] = self._stamp()
        self.client.update("work_order", wo_id, fields)

    def complete_work_order(self, wo_id: str, resolution: str,
                            signed_by: str | None = None,
                            signature: bytes | str | Path | None = None) -> str | None:
        """Complete a work order now with its resolution and who signed for it; `signature`,
        the signature captured as a PNG image (bytes or a file), is attached to the work
        order in the same local transaction (kind `signature`). Returns its attachment id.

        Raises LocalValidationError for an unknown, closed or cancelled work order, an
        empty resolution or a signature that is not a PNG.
        """
        self._work_order(wo_id)
        if not resolution:
            raise refuse("resolution", "must not be empty")
        fields = {"status": WorkOrderStatus.COMPLETED, "completed_at": self._stamp(),
                  "resolution": resolution}
        if signed_by is not None:
            fields["signed_by"] = signed_by
        with self.client.atomic():
            signed = None if signature is None else self.attach(
                wo_id, signature, kind="signature", filename="signature.png",
                content_type="image/png")
            self.client.update("work_order", wo_id, fields)
        return signed

    def attach(self, wo_id: str, source: bytes | str | Path, *, kind: str = "photo",
               filename: str | None = None, content_type: str | None = None) -> str:
        """Attach a photo or signature (bytes, or a file's path) to a work order: its record
        goes to the outbox and its bytes to the upload queue, in one local transaction; they
        upload after the record syncs. Returns the attachment id (see client.attachments)."""
        if isinstance(source, bytes):
            return self.client.attachments.attach_bytes(
                self, wo_id, source, filename=filename or "photo.jpg",
                content_type=content_type or "image/jpeg", kind=kind)
        return self.client.attachments.attach_file(self, wo_id, source, kind=kind,
                                                   content_type=content_type)

    def use_part(self, wo_id: str, part_id: str, quantity: int,
                 notes: str | None = None) -> str:
        """Record parts used on a work order and take them from the technician's van stock.

        The van stock is decremented by a local update that the server merges as a counter,
        so an office restock made meanwhile adds up. Using more than the van holds is
        refused, never clamped (docs §10.4): the office restocks the van first. A part the
        van does not carry at all came from elsewhere: its use is recorded without touching
        van stock. Returns the part_used id. Raises LocalValidationError for an unknown work
        order or part, a quantity below 1, or more than the van holds.
        """
        self._work_order(wo_id)
        self._record("part", part_id, "part_id")
        quantity = wire.whole_number(quantity, "quantity", minimum=1)
        stocks = self.client.query("van_stock", technician_id=self._user_id(), part_id=part_id)
        if stocks and stocks[0]["quantity"] < quantity:
            raise refuse("quantity", f"the van holds {stocks[0]['quantity']}")
        with self.client.atomic():  # the use and the decrement survive a crash together
            used_id = self.client.create("part_used", {
                "work_order_id": wo_id, "part_id": part_id, "quantity": quantity,
                "notes": notes})
            if stocks:
                self.client.update("van_stock", stocks[0]["id"],
                                   {"quantity": stocks[0]["quantity"] - quantity})
        return used_id

    def log_time(self, wo_id: str, started_at: datetime | str, ended_at: datetime | str,
                 kind: str = "labor", notes: str | None = None) -> str:
        """Log time spent on a work order (labor or travel); minutes are computed.

        Returns the time entry id. Raises LocalValidationError for an unknown work order, an
        unknown kind, timestamps without a zone or in the future, or an end before the start.
        """
        self._work_order(wo_id)
        start = wire.timestamp(started_at, "started_at")
        end = wire.timestamp(ended_at, "ended_at")
        for field, moment in (("started_at", start), ("ended_at", end)):
            reason = bounds.logged_time_refusal(datetime.fromisoformat(moment), self._now())
            if reason:
                raise refuse(field, reason)
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        if seconds < 0:
            raise refuse("ended_at", "must not be before started_at")
        return self.client.create("time_entry", {
            "work_order_id": wo_id, "technician_id": self._user_id(),
            "kind": wire.choice(kind, "kind", TIME_KINDS), "started_at": start,
            "ended_at": end, "minutes": round(seconds / 60), "notes": notes})

    def answer_checklist(self, item_id: str, checked: bool = True,
                         answer: str | None = None) -> None:
        """Tick (or untick) a checklist item, with a written answer when given.

        Raises LocalValidationError for an unknown item or a `checked` that is not a bool.
        """
        self._record("checklist_item", item_id, "checklist_item_id")
        if not isinstance(checked, bool):
            raise refuse("checked", "must be true or false")
        fields: dict[str, Any] = {"checked": checked, "answered_at": self._stamp()}
        if answer is not None:
            fields["answer"] = answer
        self.client.update("checklist_item", item_id, fields)

    def add_attachment(self, wo_id: str, kind: str, filename: str, content_type: str,
                       size_bytes: int, sha256: str | None = None,
                       captured_at: datetime | str | None = None) -> str:
        """Record a photo's or signature's metadata on a work order (the file goes elsewhere).

        Returns the attachment id. Raises LocalValidationError for an unknown work order, an
        unknown kind, an empty filename, a malformed content type or sha256, or a negative
        size.
        """
        self._record("work_order", wo_id, "work_order_id")
        if not filename or len(filename) > 200:
            raise refuse("filename", "must be 1 to 200 characters")
        return self.client.create("attachment", {
            "work_order_id": wo_id, "kind": wire.choice(kind, "kind", ATTACHMENT_KINDS),
            "filename": filename,
            "content_type": wire.matching(content_type, "content_type", wire.CONTENT_TYPE,
                                          "a media type such as image/jpeg"),
            "size_bytes": wire.whole_number(size_bytes, "size_bytes", minimum=0),
            "sha256": wire.matching(sha256, "sha256", wire.SHA256, "64 lowercase hex digits"),
            "captured_at": (self._stamp() if captured_at is None
                            else wire.timestamp(captured_at, "captured_at"))})
