"""The field domain registers its replicated entities with the sync engine here.

Scope keys: `territory:<id>` (reps of a territory), `site:<account id>` (technicians with
work at that account), `tech:<user id>` (a technician's own work and van), `catalog`
(everyone), and `*` for the back office, who sees everything.
"""

from __future__ import annotations

from server.blobs.limits import attachment_check
from server.domain import rules
from server.domain.codec import SchemaCodec
from server.domain.policies import policy_for
from server.domain.schemas import (
    AccountSchema,
    AssetSchema,
    AttachmentSchema,
    ChecklistItemSchema,
    ContactSchema,
    OrderLineSchema,
    OrderSchema,
    PartSchema,
    PartUsedSchema,
    PriceListSchema,
    PriceSchema,
    ProductSchema,
    TerritorySchema,
    TimeEntrySchema,
    VanStockSchema,
    VisitSchema,
    WorkOrderSchema,
)
from server.domain.workflows import WORKFLOWS
from server.models import (
    Account,
    Asset,
    Attachment,
    ChecklistItem,
    Contact,
    Order,
    OrderLine,
    Part,
    PartUsed,
    Price,
    PriceList,
    Product,
    Territory,
    TimeEntry,
    VanStock,
    Visit,
    WorkOrder,
)
from sync.entities import EntitySpec, Inherit, OwnKeys, Registry

CATALOG = OwnKeys(lambda r: {"catalog"})
IN_TERRITORY = ("territory:",)
AT_SITE = ("site:",)
OF_TECHNICIAN = ("tech:",)


def _tech_keys(record) -> set[str]:
    return {f"tech:{record['technician_id']}"} if record.get("technician_id") else set()


def _spec(name, model, schema, scope, **kwargs) -> EntitySpec:
    table = model.__table__
    return EntitySpec(name=name, table=table, codec=SchemaCodec(schema(), table), scope=scope,
                      policy=policy_for(name), workflow=WORKFLOWS.get(name), **kwargs)


def _catalog(name, model, schema, **kwargs) -> EntitySpec:
    return _spec(name, model, schema, CATALOG, authorize=rules.roles(rules.CATALOG_WRITERS),
                 **kwargs)


SPECS = [
    _spec("territory", Territory, TerritorySchema, OwnKeys(lambda r: {f"territory:{r['id']}"}),
          authorize=rules.roles(rules.CATALOG_WRITERS)),
    _catalog("product", Product, ProductSchema),
    _catalog("price_list", PriceList, PriceListSchema, check=rules.price_list_check),
    _catalog("price", Price, PriceSchema,
             references={"price_list_id": "price_list", "product_id": "product"}),
    _catalog("part", Part, PartSchema),
    _spec("account", Account, AccountSchema,
          OwnKeys(lambda r: {f"territory:{r['territory_id']}", f"site:{r['id']}"}),
          references={"territory_id": "territory"}, authorize=rules.roles(rules.SALES)),
    _spec("contact", Contact, ContactSchema, Inherit("account_id", "account", IN_TERRITORY),
          references={"account_id": "account"}, authorize=rules.roles(rules.SALES)),
    _spec("visit", Visit, VisitSchema, Inherit("account_id", "account", IN_TERRITORY),
          references={"account_id": "account"},
          authorize=rules.own_record("rep_id", rules.SALES), check=rules.visit_check),
    _spec("order", Order, OrderSchema, Inherit("account_id", "account", IN_TERRITORY),
          references={"account_id": "account", "visit_id": "visit",
                      "price_list_id": "price_list"},
          authorize=rules.own_record("rep_id", rules.SALES)),
    _spec("order_line", OrderLine, OrderLineSchema, Inherit("order_id", "order", IN_TERRITORY),
          references={"order_id": "order", "product_id": "product"},
          authorize=rules.order_line_authorize, derive=rules.price_order_line),
    _spec("asset", Asset, AssetSchema, Inherit("account_id", "account", AT_SITE),
          references={"account_id": "account"}, authorize=rules.roles(rules.SERVICE)),
    _spec("work_order", WorkOrder, WorkOrderSchema, OwnKeys(_tech_keys),
          references={"account_id": "account", "asset_id": "asset"},
          authorize=rules.work_order_authorize),
    _spec("van_stock", VanStock, VanStockSchema, OwnKeys(_tech_keys),
          references={"part_id": "part"},
          authorize=rules.own_record("technician_id", rules.SERVICE)),
    _spec("part_used", PartUsed, PartUsedSchema,
          Inherit("work_order_id", "work_order", OF_TECHNICIAN),
          references={"work_order_id": "work_order", "part_id": "part"},
          authorize=rules.work_child()),
    _spec("time_entry", TimeEntry, TimeEntrySchema,
          Inherit("work_order_id", "work_order", OF_TECHNICIAN),
          references={"work_order_id": "work_order"},
          authorize=rules.all_of(rules.own_record("technician_id", rules.SERVICE),
                                 rules.work_child()),
          check=rules.time_entry_check),
    _spec("checklist_item", ChecklistItem, ChecklistItemSchema,
          Inherit("work_order_id", "work_order", OF_TECHNICIAN),
          references={"work_order_id": "work_order"},
          authorize=rules.work_child(rules.TECHNICIAN_CHECKLIST_FIELDS)),
    _spec("attachment", Attachment, AttachmentSchema,
          Inherit("work_order_id", "work_order", OF_TECHNICIAN),
          references={"work_order_id": "work_order"}, authorize=rules.work_child(),
          check=attachment_check),
]

REGISTRY = Registry(SPECS)
