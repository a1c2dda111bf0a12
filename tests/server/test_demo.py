"""The demo company: deterministic, realistic, consistent, and stored through the sync engine."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.demo import ENTITY_ORDER, generate_demo, seed_demo
from server.domain import REGISTRY
from server.extensions import db
from server.models import Base, User
from server.services.users import verify_credentials
from sync.errors import MutationRejected

TODAY = date(2026, 3, 2)
META_COLUMNS = {"version", "created_at", "updated_at", "deleted_at"}


@pytest.fixture(scope="module")
def company():
    return generate_demo(seed=11, accounts=120, today=TODAY)


def test_the_same_seed_and_day_give_the_same_company_to_the_last_id(company):
    again = generate_demo(seed=11, accounts=120, today=TODAY)
    other = generate_demo(seed=12, accounts=120, today=TODAY)

    assert again == company
    assert other.records["account"][0]["id"] != company.records["account"][0]["id"]


def test_the_company_has_the_people_a_field_business_has(company):
    roles = Counter(user.role for user in company.users)
    assert roles == {"rep": 6, "technician": 5, "dispatcher": 1, "back_office": 1, "admin": 1}
    codes = {t["code"] for t in company.records["territory"]}
    assert 4 <= len(codes) <= 5
    for user in company.users_with_role("rep") + company.users_with_role("technician"):
        assert 1 <= len(user.territory_codes) <= 2 and set(user.territory_codes) <= codes
    assert codes == {c for rep in company.users_with_role("rep") for c in rep.territory_codes}
    assert len({user.email for user in company.users}) == len(company.users)


def test_the_catalog_is_complete_and_every_product_has_a_price(company):
    records = company.records
    assert 140 <= len(records["product"]) <= 160
    assert 70 <= len(records["part"]) <= 90
    assert len(records["price_list"]) == 1
    priced = {price["product_id"] for price in records["price"]}
    assert priced == {product["id"] for product in records["product"]}


def test_there_is_open_work_with_checklists_assigned_to_technicians(company):
    orders = company.records["work_order"]
    statuses = Counter(order["status"] for order in orders)
    assert {"new", "scheduled", "dispatched", "in_progress", "on_hold"} <= set(statuses)
    technicians = {user.id for user in company.users_with_role("technician")}
    for order in orders:
        assert (order["technician_id"] is None) == (order["status"] == "new")
        assert order["technician_id"] is None or order["technician_id"] in technicians
    with_checklist = {item["work_order_id"] for item in company.records["checklist_item"]}
    assert with_checklist == {order["id"] for order in orders}
    stocked = {row["technician_id"] for row in company.records["van_stock"]}
    assert stocked == technicians


def test_reps_have_planned_visits_and_some_orders_with_lines(company):
    planned = Counter(v["rep_id"] for v in company.records["visit"] if v["status"] == "planned")
    assert set(planned) == {user.id for user in company.users_with_role("rep")}
    assert all(v["planned_at"] > f"{TODAY}" for v in company.records["visit"]
               if v["status"] == "planned")
    assert len(company.records["order"]) >= 6
    lines = Counter(line["order_id"] for line in company.records["order_line"])
    assert set(lines) == {order["id"] for order in company.records["order"]}


def test_the_demo_logins_the_readme_mentions_exist():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    mentioned = set(re.findall(r"[a-z.]+@demo\.example", readme))
    users = {user.email: user.role for user in generate_demo(today=TODAY).users}

    assert mentioned and mentioned <= set(users)
    assert users["eric.stewart@demo.example"] == "admin"


def test_the_size_follows_the_number_of_accounts():
    small = generate_demo(seed=11, accounts=30, today=TODAY)
    assert len(small.records["account"]) == 30
    assert len(small.records["product"]) == 151


def test_records_come_in_dependency_order_and_refer_only_to_earlier_records(company):
    assert tuple(company.records) == ENTITY_ORDER
    seen = {"user": {user.id for user in company.users}}
    for entity, records in company.records.items():
        table = Base.metadata.tables[entity]
        for column in table.columns:
            for fk in column.foreign_keys:
                target = seen.get(fk.column.table.name, set())
                dangling = [r["id"] for r in records
                            if r.get(column.name) is not None and r[column.name] not in target]
                assert not dangling, f"{entity}.{column.name} refers to unknown records"
        seen[entity] = {record["id"] for record in records}


def test_records_are_json_ready_wire_forms_of_their_table(company):
    json.dumps(company.records)
    for entity, records in company.records.items():
        table = Base.metadata.tables[entity]
        for record in records:
            assert "id" in record and not META_COLUMNS & set(record)
            assert set(record) <= set(table.columns.keys()), entity
            for name, value in record.items():
                assert_fits(table.columns[name], value)


def assert_fits(column: sa.Column, value) -> None:
    where = f"{column.table.name}.{column.name}"
    if value is None:
        assert column.nullable, f"{where} is required"
        return
    type_ = column.type
    if isinstance(type_, sa.Enum):
        assert value in type_.enums, f"{where}: {value!r}"
    elif isinstance(type_, sa.String) and type_.length:
        assert isinstance(value, str) and len(value) <= type_.length, f"{where}: {value!r}"
    elif isinstance(type_, sa.Uuid):
        assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", value), where
    elif isinstance(type_, sa.Date):
        assert date.fromisoformat(value).isoformat() == value, where
    elif column.type.python_type is datetime:
        assert value.endswith("Z") and datetime.fromisoformat(value).tzinfo, where


def test_records_are_in_the_servers_canonical_form_and_pass_its_validation(company):
    for entity, records in company.records.items():
        codec = REGISTRY[entity].codec
        for record in records:
            fields = {k: v for k, v in record.items() if k != "id"}
            loaded = codec.load(fields, partial=False)
            assert {k: loaded[k] for k in fields} == fields, entity


def test_unique_columns_hold_unique_values(company):
    for entity, records in company.records.items():
        table = Base.metadata.tables[entity]
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
                names = [c.name for c in constraint.columns]
                keys = [tuple(r.get(n) for n in names) for r in records]
                assert len(keys) == len(set(keys)), f"{entity} {names}"


def test_seeding_stores_users_and_logs_every_record_for_sync(app):
    small = generate_demo(seed=5, accounts=24, today=TODAY)
    with app.app_context():
        user_ids = seed_demo(db.session, small, password="demo-password",
                             hash_method=app.config["PASSWORD_HASH_METHOD"])
        db.session.commit()

        for entity, records in small.records.items():
            assert row_count(Base.metadata.tables[entity]) == len(records), entity
        logged = row_count(Base.metadata.tables["sync_change"])
        assert logged >= sum(len(records) for records in small.records.values())

        rep = small.users_with_role("rep")[0]
        stored = verify_credentials(db.session, rep.email, "demo-password",
                                    hash_method=app.config["PASSWORD_HASH_METHOD"])
        assert stored is not None and stored.id == user_ids[rep.id]
        assert sorted(t.code for t in stored.territories) == sorted(rep.territory_codes)
        visits = Base.metadata.tables["visit"]
        mine = db.session.scalar(sa.select(sa.func.count()).where(visits.c.rep_id == stored.id))
        assert mine == sum(1 for v in small.records["visit"] if v["rep_id"] == rep.id)


def row_count(table: sa.Table) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(table))


def test_a_failed_seed_leaves_nothing_behind(app):
    small = generate_demo(seed=5, accounts=24, today=TODAY)
    broken = small.records["work_order"][0]
    broken["status"] = "exploded"
    with app.app_context():
        with pytest.raises(MutationRejected, match="work_order"):
            seed_demo(db.session, small, password="demo-password",
                      hash_method=app.config["PASSWORD_HASH_METHOD"])
        db.session.rollback()
        assert row_count(User.__table__) == 0
        assert row_count(Base.metadata.tables["account"]) == 0
