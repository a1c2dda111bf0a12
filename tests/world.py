"""A small field company for tests, written through the sync engine like real data.

Two territories (N, S), a rep in each, two technicians, office staff, a catalog with a price
list, accounts in both territories, work orders assigned to the technicians, van stock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from server.domain import import_records
from server.extensions import db
from server.models import Role
from sync.database import write_transaction
from tests.helpers import CreatedUser, create_user


def uid() -> str:
    return str(uuid.uuid4())


@dataclass
class World:
    territories: dict[str, str] = field(default_factory=dict)
    users: dict[str, CreatedUser] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def user(self, name: str) -> CreatedUser:
        return self.users[name]


def build_world(app) -> World:
    w = World()
    w.territories = {"N": uid(), "S": uid()}
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "territory", [
            {"id": tid, "code": code, "name": f"Territory {code}"}
            for code, tid in w.territories.items()
        ])
    for name, role, codes in [
        ("rep_n", Role.REP, ("N",)), ("rep_s", Role.REP, ("S",)),
        ("tech_a", Role.TECHNICIAN, ()), ("tech_b", Role.TECHNICIAN, ()),
        ("dispatcher", Role.DISPATCHER, ()), ("office", Role.BACK_OFFICE, ()),
        ("admin", Role.ADMIN, ()),
    ]:
        w.users[name] = create_user(app, role=role, name=name, territory_codes=codes)
    with app.app_context(), write_transaction(db.engine) as conn:
        _catalog(conn, w)
        _accounts(conn, w)
        _service(conn, w)
    return w


def _catalog(conn, w: World) -> None:
    ids = w.ids
    ids.update(product1=uid(), product2=uid(), price_list=uid(), part1=uid(), part2=uid())
    import_records(conn, "product", [
        {"id": ids["product1"], "sku": "P-1", "name": "Espresso beans 1kg"},
        {"id": ids["product2"], "sku": "P-2", "name": "Milk frother"},
    ])
    import_records(conn, "price_list", [
        {"id": ids["price_list"], "name": "2026", "currency": "EUR", "valid_from": "2026-01-01"},
    ])
    import_records(conn, "price", [
        {"id": uid(), "price_list_id": ids["price_list"], "product_id": ids["product1"],
         "unit_price": "24.90"},
        {"id": uid(), "price_list_id": ids["price_list"], "product_id": ids["product2"],
         "unit_price": "129.00"},
    ])
    import_records(conn, "part", [
        {"id": ids["part1"], "part_number": "GSK-1", "name": "Gasket", "unit_cost": "3.20"},
        {"id": ids["part2"], "part_number": "PMP-2", "name": "Pump", "unit_cost": "88.00"},
    ])


def _accounts(conn, w: World) -> None:
    ids = w.ids
    ids.update(acc_n1=uid(), acc_n2=uid(), acc_s1=uid())
    import_records(conn, "account", [
        {"id": ids["acc_n1"], "territory_id": w.territories["N"], "name": "Café Nord"},
        {"id": ids["acc_n2"], "territory_id": w.territories["N"], "name": "Bistro Nord"},
        {"id": ids["acc_s1"], "territory_id": w.territories["S"], "name": "Bar Sud"},
    ])
    ids.update(contact_n1=uid())
    import_records(conn, "contact", [
        {"id": ids["contact_n1"], "account_id": ids["acc_n1"], "first_name": "Ana",
         "last_name": "Nord"},
    ])


def _service(conn, w: World) -> None:
    ids = w.ids
    ids.update(asset_n1=uid(), wo_a=uid(), wo_b=uid(), check_a=uid(), van_a=uid())
    import_records(conn, "asset", [
        {"id": ids["asset_n1"], "account_id": ids["acc_n1"], "name": "Espresso machine"},
    ])
    import_records(conn, "work_order", [
        {"id": ids["wo_a"], "account_id": ids["acc_n1"], "asset_id": ids["asset_n1"],
         "technician_id": w.users["tech_a"].id, "title": "Descale", "status": "dispatched"},
        {"id": ids["wo_b"], "account_id": ids["acc_s1"], "technician_id": w.users["tech_b"].id,
         "title": "Pump noise", "status": "scheduled"},
    ])
    import_records(conn, "checklist_item", [
        {"id": ids["check_a"], "work_order_id": ids["wo_a"], "position": 0,
         "label": "Water hardness measured"},
    ])
    import_records(conn, "van_stock", [
        {"id": ids["van_a"], "technician_id": w.users["tech_a"].id, "part_id": ids["part1"],
         "quantity": 10},
    ])
