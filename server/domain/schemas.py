"""Wire schemas of the replicated entities: what a device may send for each field.

Field names are the column names. Loading validates and converts; dumping gives the
canonical wire form that is stored, merged and sent back.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.domain.wire_fields import coordinate, count, money, ref, text, timestamp
from server.models import (
    AccountStatus,
    AttachmentKind,
    OrderStatus,
    Priority,
    TimeEntryKind,
    VisitStatus,
    WorkOrderStatus,
)


def enum(cls, *, required: bool = True, **kwargs) -> fields.Enum:
    return fields.Enum(cls, by_value=True, required=required, **kwargs)


def email(**kwargs) -> fields.Email:
    return fields.Email(allow_none=True, validate=validate.Length(max=254), **kwargs)


class TerritorySchema(Schema):
    code = text(20, required=True)
    name = text(120, required=True)
    region = text(120)


class AccountSchema(Schema):
    territory_id = ref()
    name = text(200, required=True)
    account_number = text(40)
    status = enum(AccountStatus, load_default=AccountStatus.ACTIVE, required=False)
    phone = text(40)
    email = email()
    street = text(200)
    city = text(120)
    postal_code = text(20)
    country = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Z]{2}$"))
    latitude = coordinate(90)
    longitude = coordinate(180)
    notes = text()


class ContactSchema(Schema):
    account_id = ref()
    first_name = text(80, required=True)
    last_name = text(80, required=True)
    title = text(120)
    phone = text(40)
    email = email()
    is_primary = fields.Boolean(load_default=False)


class ProductSchema(Schema):
    sku = text(40, required=True)
    name = text(200, required=True)
    description = text()
    unit = fields.String(load_default="each", validate=validate.Length(min=1, max=20))
    active = fields.Boolean(load_default=True)


class PriceListSchema(Schema):
    name = text(120, required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(allow_none=True)
    active = fields.Boolean(load_default=True)


class PriceSchema(Schema):
    price_list_id = ref()
    product_id = ref()
    unit_price = money(required=True)


class VisitSchema(Schema):
    account_id = ref()
    rep_id = ref()
    status = enum(VisitStatus, load_default=VisitStatus.PLANNED, required=False)
    planned_at = timestamp()
    checked_in_at = timestamp()
    completed_at = timestamp()
    latitude = coordinate(90)
    longitude = coordinate(180)
    outcome = text(200)
    notes = text()


class OrderSchema(Schema):
    account_id = ref()
    rep_id = ref()
    visit_id = ref(required=False)
    price_list_id = ref()
    status = enum(OrderStatus, load_default=OrderStatus.DRAFT, required=False)
    ordered_at = timestamp()
    notes = text()


class OrderLineSchema(Schema):
    order_id = ref()
    product_id = ref()
    quantity = count(minimum=1)
    # The device prices from its local price list; the server's price is final.
    unit_price = money(load_default="0.00")
    discount_pct = fields.Decimal(places=2, as_string=True, load_default="0.00",
                                  validate=validate.Range(min=0, max=100))
    line_total = money(dump_only=True)


class AssetSchema(Schema):
    account_id = ref()
    name = text(200, required=True)
    model = text(120)
    serial_number = text(80)
    installed_on = fields.Date(allow_none=True)
    warranty_until = fields.Date(allow_none=True)
    notes = text()


class PartSchema(Schema):
    part_number = text(40, required=True)
    name = text(200, required=True)
    unit_cost = money(required=True)
    active = fields.Boolean(load_default=True)


class WorkOrderSchema(Schema):
    account_id = ref()
    asset_id = ref(required=False)
    technician_id = ref(required=False)
    number = text(40)
    title = text(200, required=True)
    description = text()
    status = enum(WorkOrderStatus, load_default=WorkOrderStatus.NEW, required=False)
    priority = enum(Priority, load_default=Priority.NORMAL, required=False)
    scheduled_start = timestamp()
    due_at = timestamp()
    started_at = timestamp()
    completed_at = timestamp()
    resolution = text()
    signed_by = text(120)


class VanStockSchema(Schema):
    technician_id = ref()
    part_id = ref()
    quantity = count()


class PartUsedSchema(Schema):
    work_order_id = ref()
    part_id = ref()
    quantity = count(minimum=1)
    notes = text()


class TimeEntrySchema(Schema):
    work_order_id = ref()
    technician_id = ref()
    kind = enum(TimeEntryKind)
    started_at = timestamp(required=True)
    ended_at = timestamp()
    minutes = count()
    notes = text()


class ChecklistItemSchema(Schema):
    work_order_id = ref()
    position = count()
    label = text(200, required=True)
    checked = fields.Boolean(load_default=False)
    answer = text()
    answered_at = timestamp()


class AttachmentSchema(Schema):
    work_order_id = ref()
    kind = enum(AttachmentKind)
    filename = text(200, required=True)
    content_type = fields.String(required=True, validate=validate.Regexp(r"^[\w.+-]+/[\w.+-]+$"))
    size_bytes = count(maximum=2**63 - 1)
    sha256 = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    captured_at = timestamp()
