"""Wire schemas of the replicated entities: what a device may send for each field.

Field names are the column names. Loading validates and converts; dumping gives the
canonical wire form that is stored, merged and sent back.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.domain.wire_fields import (
    coordinate,
    count,
    formatted,
    money,
    ref,
    text,
    timestamp,
)
from server.models import (
    AccountStatus,
    AttachmentKind,
    OrderStatus,
    Priority,
    TimeEntryKind,
    VisitStatus,
    WorkOrderStatus,
)

# The longest text each kind of field takes, in characters (Unicode code points). Every
# string field of every entity has one of these: GET /api/v1/sync/entities and the entity
# reference in docs/protocol.md publish them, the server rejects a longer value per
# mutation (`validation_failed`, naming the field), and the SDK refuses it before queueing.
# The largest record stays far below a request body (MAX_CONTENT_LENGTH) and a pull page.
CODE = 20  # territory codes, postal codes, units
NUMBER = 40  # account, article, part and work order numbers; phone numbers
PERSON_NAME = 80  # a contact's first or last name; a serial number
SHORT_NAME = 120  # territory, price list, city, region, job title, model, signer
NAME = 200  # account, product, part, asset names; titles, labels, file names, outcomes
EMAIL = 254  # the longest address SMTP carries (RFC 5321)
MEDIA_TYPE = 100
LONG_TEXT = 10_000  # notes, descriptions, resolutions, answers: about four printed pages


def enum(cls, *, required: bool = True, **kwargs) -> fields.Enum:
    return fields.Enum(cls, by_value=True, required=required, **kwargs)


def email(**kwargs) -> fields.Email:
    return fields.Email(allow_none=True, validate=validate.Length(max=EMAIL), **kwargs)


class TerritorySchema(Schema):
    code = text(CODE, required=True)
    name = text(SHORT_NAME, required=True)
    region = text(SHORT_NAME)


class AccountSchema(Schema):
    territory_id = ref()
    name = text(NAME, required=True)
    account_number = text(NUMBER)
    status = enum(AccountStatus, load_default=AccountStatus.ACTIVE, required=False)
    phone = text(NUMBER)
    email = email()
    street = text(NAME)
    city = text(SHORT_NAME)
    postal_code = text(CODE)
    country = formatted(r"^[A-Z]{2}$", 2, "two uppercase letters: an ISO 3166-1 alpha-2 code")
    latitude = coordinate(90)
    longitude = coordinate(180)
    notes = text(LONG_TEXT)


class ContactSchema(Schema):
    account_id = ref()
    first_name = text(PERSON_NAME, required=True)
    last_name = text(PERSON_NAME, required=True)
    title = text(SHORT_NAME)
    phone = text(NUMBER)
    email = email()
    is_primary = fields.Boolean(load_default=False)


class ProductSchema(Schema):
    sku = text(NUMBER, required=True)
    name = text(NAME, required=True)
    description = text(LONG_TEXT)
    unit = fields.String(load_default="each", validate=validate.Length(min=1, max=CODE))
    active = fields.Boolean(load_default=True)


class PriceListSchema(Schema):
    name = text(SHORT_NAME, required=True)
    currency = formatted(r"^[A-Z]{3}$", 3, "three uppercase letters: an ISO 4217 code",
                         required=True)
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
    outcome = text(NAME)
    notes = text(LONG_TEXT)


class OrderSchema(Schema):
    account_id = ref()
    rep_id = ref()
    visit_id = ref(required=False)
    price_list_id = ref()
    status = enum(OrderStatus, load_default=OrderStatus.DRAFT, required=False)
    ordered_at = timestamp()
    notes = text(LONG_TEXT)


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
    name = text(NAME, required=True)
    model = text(SHORT_NAME)
    serial_number = text(PERSON_NAME)
    installed_on = fields.Date(allow_none=True)
    warranty_until = fields.Date(allow_none=True)
    notes = text(LONG_TEXT)


class PartSchema(Schema):
    part_number = text(NUMBER, required=True)
    name = text(NAME, required=True)
    unit_cost = money(required=True)
    active = fields.Boolean(load_default=True)


class WorkOrderSchema(Schema):
    account_id = ref()
    asset_id = ref(required=False)
    technician_id = ref(required=False)
    number = text(NUMBER)
    title = text(NAME, required=True)
    description = text(LONG_TEXT)
    status = enum(WorkOrderStatus, load_default=WorkOrderStatus.NEW, required=False)
    priority = enum(Priority, load_default=Priority.NORMAL, required=False)
    scheduled_start = timestamp()
    due_at = timestamp()
    started_at = timestamp()
    completed_at = timestamp()
    resolution = text(LONG_TEXT)
    signed_by = text(SHORT_NAME)


class VanStockSchema(Schema):
    technician_id = ref()
    part_id = ref()
    quantity = count()


class PartUsedSchema(Schema):
    work_order_id = ref()
    part_id = ref()
    quantity = count(minimum=1)
    notes = text(LONG_TEXT)


class TimeEntrySchema(Schema):
    work_order_id = ref()
    technician_id = ref()
    kind = enum(TimeEntryKind)
    started_at = timestamp(required=True)
    ended_at = timestamp()
    minutes = count()
    notes = text(LONG_TEXT)


class ChecklistItemSchema(Schema):
    work_order_id = ref()
    position = count()
    label = text(NAME, required=True)
    checked = fields.Boolean(load_default=False)
    answer = text(LONG_TEXT)
    answered_at = timestamp()


class AttachmentSchema(Schema):
    work_order_id = ref()
    kind = enum(AttachmentKind)
    filename = text(NAME, required=True)
    content_type = formatted(r"^[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+$", MEDIA_TYPE,
                             "a media type, type/subtype (e.g. image/jpeg)", required=True)
    size_bytes = count(maximum=2**63 - 1)
    sha256 = formatted(r"^[0-9a-f]{64}$", 64, "64 lowercase hexadecimal digits")
    captured_at = timestamp()
