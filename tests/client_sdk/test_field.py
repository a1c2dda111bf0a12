"""Field operations on the offline replica, synced to the in-process server."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client_sdk import LocalValidationError, OfflineError
from client_sdk.pricing import current_price_list, line_total
from server.domain.rules import price_order_line

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
NOW_TEXT = "2026-11-23T09:30:00Z"


def at_half_past_nine() -> datetime:
    return NOW


def outbox(device) -> list[tuple[str, str]]:
    return [(m.entity, str(m.op)) for m in device.client.pending()]


def test_a_rep_offline_creates_an_account_visit_and_order_the_server_prices_and_the_office_sees(
        connect, world):
    ids = world.ids
    rep = connect("rep_n", now=at_half_past_nine)
    rep.offline()

    new = rep.field.create_account_with_order(
        world.territories["N"], "Café Neu", [(ids["product1"], 3, "10"), (ids["product2"], 1)],
        city="Hamburg", latitude=53.55, longitude="9.99")

    assert [(line.unit_price, line.line_total) for line in new.order.lines] == [
        ("24.90", "67.23"), ("129.00", "129.00")]
    assert new.order.total == "196.23"
    assert outbox(rep) == [("account", "create"), ("visit", "create"), ("order", "create"),
                           ("order_line", "create"), ("order_line", "create")]
    with pytest.raises(OfflineError):
        rep.client.sync()
    assert rep.client.status().pending == 5

    rep.online()
    report = rep.client.sync()

    assert (report.pushed, report.applied, report.rejected) == (5, 5, 0)
    office = connect("office", "office-pc")
    account = office.client.get("account", new.account_id)
    assert (account["name"], account["city"], account["territory_id"]) == (
        "Café Neu", "Hamburg", world.territories["N"])
    assert (account["latitude"], account["longitude"]) == ("53.550000", "9.990000")
    visit = office.client.get("visit", new.visit_id)
    assert (visit["account_id"], visit["rep_id"], visit["status"], visit["checked_in_at"]) == (
        new.account_id, world.user("rep_n").id, "checked_in", NOW_TEXT)
    order = office.client.get("order", new.order.order_id)
    assert (order["visit_id"], order["price_list_id"], order["status"]) == (
        new.visit_id, ids["price_list"], "draft")
    lines = office.client.query("order_line", order_id=new.order.order_id)
    assert sorted((line["product_id"], line["quantity"], line["discount_pct"],
                   line["unit_price"], line["line_total"]) for line in lines) == sorted([
        (ids["product1"], 3, "10.00", "24.90", "67.23"),
        (ids["product2"], 1, "0.00", "129.00", "129.00")])
    # The server-owned total flowed back into the rep's replica.
    assert rep.client.get("order_line", new.order.lines[0].line_id)["line_total"] == "67.23"


def test_the_servers_price_is_final_and_replaces_a_stale_local_price(connect, world):
    ids = world.ids
    rep, office = connect("rep_n"), connect("office", "office-pc")
    price = office.client.query("price", product_id=ids["product1"])[0]
    office.client.update("price", price["id"], {"unit_price": "26.00"})
    office.client.sync()

    created = rep.field.create_order(ids["acc_n1"], [(ids["product1"], 2)])
    assert created.total == "49.80"  # the rep's price list is a sync behind
    rep.client.sync()

    line = rep.client.get("order_line", created.lines[0].line_id)
    assert (line["unit_price"], line["line_total"]) == ("26.00", "52.00")
    assert [(p.unit_price, p.line_total) for p in rep.field.order_lines(created.order_id)] == [
        ("26.00", "52.00")]


@given(unit=st.decimals(min_value=0, max_value=10_000, places=2),
       quantity=st.integers(min_value=1, max_value=10_000),
       discount=st.decimals(min_value=0, max_value=100, places=2))
def test_the_device_prices_a_line_with_the_servers_arithmetic(unit, quantity, discount):
    class PriceList:
        def get(self, entity, record_id):
            return {"price_list_id": "list"}

        def find(self, entity, **equals):
            return {"unit_price": str(unit)}

    line = {"order_id": "order", "product_id": "product", "quantity": quantity,
            "discount_pct": str(discount)}
    server = price_order_line(PriceList(), line)

    assert line_total(str(unit), quantity, str(discount)) == server["line_total"]


def test_the_current_price_list_is_the_newest_active_one_valid_today():
    lists = [
        {"id": "old", "valid_from": "2025-01-01", "valid_to": "2025-12-31", "active": True},
        {"id": "base", "valid_from": "2026-01-01", "valid_to": None, "active": True},
        {"id": "promo", "valid_from": "2026-11-01", "valid_to": "2026-11-30", "active": True},
        {"id": "draft", "valid_from": "2026-11-20", "valid_to": None, "active": False},
    ]

    assert current_price_list(lists, date(2026, 11, 23))["id"] == "promo"
    assert current_price_list(lists, date(2026, 12, 1))["id"] == "base"
    assert current_price_list(lists, date(2024, 6, 1)) is None


def test_a_visit_is_planned_checked_in_and_completed_offline(connect, world):
    rep = connect("rep_n", now=at_half_past_nine)
    rep.offline()

    visit_id = rep.field.plan_visit(world.ids["acc_n1"], "2026-11-24T10:00:00+01:00",
                                    notes="bring samples")
    rep.field.check_in(visit_id, latitude=52.52, longitude=13.405)
    rep.field.complete_visit(visit_id, "Order taken", notes="likes the new beans")
    assert outbox(rep) == [("visit", "create"), ("visit", "update"), ("visit", "update")]
    rep.online()
    rep.client.sync()

    visit = connect("office", "office-pc").client.get("visit", visit_id)
    assert visit["planned_at"] == "2026-11-24T09:00:00Z"
    assert (visit["status"], visit["checked_in_at"], visit["completed_at"]) == (
        "completed", NOW_TEXT, NOW_TEXT)
    assert (visit["latitude"], visit["longitude"]) == ("52.520000", "13.405000")
    assert (visit["outcome"], visit["notes"]) == ("Order taken", "likes the new beans")


def test_a_submitted_order_reaches_the_office_and_cannot_be_submitted_twice(connect, world):
    rep = connect("rep_n")
    created = rep.field.create_order(world.ids["acc_n2"], [(world.ids["product2"], 2, 5)])
    rep.field.submit_order(created.order_id)
    rep.client.sync()

    assert connect("office", "office-pc").client.get(
        "order", created.order_id)["status"] == "submitted"
    with pytest.raises(LocalValidationError) as refused:
        rep.field.submit_order(created.order_id)
    assert "status" in refused.value.fields


def test_a_technician_completes_a_work_order_while_the_office_restocks_the_van(connect, world):
    ids, tech_id = world.ids, world.user("tech_a").id
    tech = connect("tech_a", "tablet", now=at_half_past_nine)
    office, dispatcher = connect("office", "office-pc"), connect("dispatcher", "dispatch-pc")
    tech.offline()

    tech.field.start_work_order(ids["wo_a"])
    used_id = tech.field.use_part(ids["wo_a"], ids["part1"], 3)
    entry_id = tech.field.log_time(ids["wo_a"], "2026-11-23T08:00:00Z",
                                   datetime(2026, 11, 23, 9, 15, tzinfo=UTC), notes="descaling")
    tech.field.answer_checklist(ids["check_a"], answer="180 ppm")
    photo_id = tech.field.add_attachment(ids["wo_a"], "photo", "after.jpg", "image/jpeg", 2048,
                                         sha256="ab" * 32)
    tech.field.complete_work_order(ids["wo_a"], "Descaled, gasket replaced", signed_by="Ana Nord")
    assert tech.client.get("van_stock", ids["van_a"])["quantity"] == 7
    assert tech.client.get("time_entry", entry_id)["minutes"] == 75

    office.client.update("van_stock", ids["van_a"], {"quantity": 15})  # restocked: +5
    office.client.sync()
    dispatcher.client.update("work_order", ids["wo_a"], {"priority": "high"})
    dispatcher.client.sync()
    tech.online()
    report = tech.client.sync()
    office.client.sync()

    assert (report.rejected, tech.client.rejected()) == (0, [])
    assert office.client.get("van_stock", ids["van_a"])["quantity"] == 12
    assert tech.client.get("van_stock", ids["van_a"])["quantity"] == 12
    work_order = office.client.get("work_order", ids["wo_a"])
    assert {k: work_order[k] for k in ("status", "started_at", "completed_at", "resolution",
                                       "signed_by", "priority")} == {
        "status": "completed", "started_at": NOW_TEXT, "completed_at": NOW_TEXT,
        "resolution": "Descaled, gasket replaced", "signed_by": "Ana Nord", "priority": "high"}
    part_used = office.client.get("part_used", used_id)
    assert (part_used["work_order_id"], part_used["part_id"], part_used["quantity"]) == (
        ids["wo_a"], ids["part1"], 3)
    entry = office.client.get("time_entry", entry_id)
    assert (entry["technician_id"], entry["kind"], entry["minutes"], entry["ended_at"]) == (
        tech_id, "labor", 75, "2026-11-23T09:15:00Z")
    item = office.client.get("checklist_item", ids["check_a"])
    assert (item["checked"], item["answer"], item["answered_at"]) == (True, "180 ppm", NOW_TEXT)
    photo = office.client.get("attachment", photo_id)
    assert (photo["filename"], photo["size_bytes"], photo["captured_at"]) == (
        "after.jpg", 2048, NOW_TEXT)


def test_using_more_parts_than_the_van_holds_is_refused_not_clamped_at_zero(connect, world):
    ids = world.ids
    tech = connect("tech_a", "tablet")

    with pytest.raises(LocalValidationError) as refused:
        tech.field.use_part(ids["wo_a"], ids["part1"], 12)

    assert refused.value.fields == {"quantity": ["the van holds 10"]}
    assert outbox(tech) == []
    used_id = tech.field.use_part(ids["wo_a"], ids["part1"], 10)
    tech.client.sync()
    assert tech.client.rejected() == []
    assert tech.client.get("part_used", used_id)["quantity"] == 10
    assert tech.client.get("van_stock", ids["van_a"])["quantity"] == 0


def test_a_part_not_stocked_in_the_van_is_recorded_without_touching_van_stock(connect, world):
    tech = connect("tech_a", "tablet")

    tech.field.use_part(world.ids["wo_a"], world.ids["part2"], 1)

    assert outbox(tech) == [("part_used", "create")]


REP_MISTAKES = {
    "unknown account": ("account_id",
                        lambda f, ids, t: f.plan_visit(ids["acc_s1"], "2026-11-24T10:00:00Z")),
    "naive timestamp": ("planned_at",
                        lambda f, ids, t: f.plan_visit(ids["acc_n1"], "2026-11-24T10:00:00")),
    "product not on the price list": ("lines.0.product_id", lambda f, ids, t: f.create_order(
        ids["acc_n1"], [(ids["part1"], 1)])),
    "zero quantity": ("lines.1.quantity", lambda f, ids, t: f.create_order(
        ids["acc_n1"], [(ids["product1"], 1), (ids["product2"], 0)])),
    "negative quantity": ("lines.0.quantity", lambda f, ids, t: f.create_order(
        ids["acc_n1"], [(ids["product1"], -2)])),
    "discount over 100": ("lines.0.discount_pct", lambda f, ids, t: f.create_order(
        ids["acc_n1"], [(ids["product1"], 1, "150")])),
    "no lines": ("lines", lambda f, ids, t: f.create_order(ids["acc_n1"], [])),
    "malformed line": ("lines.0", lambda f, ids, t: f.create_order(ids["acc_n1"], ["P-1"])),
    "a line as a mapping": ("lines.0", lambda f, ids, t: f.create_order(
        ids["acc_n1"], [{"product_id": ids["product1"], "quantity": 1}])),
    "unknown account field": ("colour", lambda f, ids, t: f.create_account(
        t["N"], "Café Bunt", colour="red")),
    "territory of another rep": ("territory_id", lambda f, ids, t: f.create_account(
        t["S"], "Bar Neu")),
    "a new customer with a bad line": ("lines.0.quantity",
                                       lambda f, ids, t: f.create_account_with_order(
                                           t["N"], "Café Halb", [(ids["product1"], 0)])),
}
TECHNICIAN_MISTAKES = {
    "negative part quantity": ("quantity",
                               lambda f, ids, t: f.use_part(ids["wo_a"], ids["part1"], -1)),
    "unknown part": ("part_id", lambda f, ids, t: f.use_part(ids["wo_a"], ids["product1"], 1)),
    "another technician's work order": ("work_order_id",
                                        lambda f, ids, t: f.start_work_order(ids["wo_b"])),
    "time ending before it starts": ("ended_at", lambda f, ids, t: f.log_time(
        ids["wo_a"], "2026-11-23T10:00:00Z", "2026-11-23T09:00:00Z")),
    "unknown kind of time": ("kind", lambda f, ids, t: f.log_time(
        ids["wo_a"], "2026-11-23T08:00:00Z", "2026-11-23T09:00:00Z", kind="overtime")),
    "malformed sha256": ("sha256", lambda f, ids, t: f.add_attachment(
        ids["wo_a"], "photo", "a.jpg", "image/jpeg", 10, sha256="not-a-hash")),
    "unknown checklist item": ("checklist_item_id",
                               lambda f, ids, t: f.answer_checklist(ids["wo_a"])),
}


@pytest.mark.parametrize(("user", "mistake"), [("rep_n", m) for m in REP_MISTAKES]
                         + [("tech_a", m) for m in TECHNICIAN_MISTAKES])
def test_a_local_mistake_is_refused_naming_the_field_and_nothing_is_written(connect, world, user,
                                                                             mistake):
    field, action = {**REP_MISTAKES, **TECHNICIAN_MISTAKES}[mistake]
    device = connect(user)
    before = device.client.status()

    with pytest.raises(LocalValidationError) as refused:
        action(device.field, world.ids, world.territories)

    assert field in refused.value.fields
    assert field in str(refused.value)
    after = device.client.status()
    assert (after.pending, after.records) == (before.pending, before.records)


def test_a_check_in_beyond_the_pole_is_refused_and_the_visit_stays_planned(connect, world):
    rep = connect("rep_n")
    visit_id = rep.field.plan_visit(world.ids["acc_n1"], NOW)

    with pytest.raises(LocalValidationError) as refused:
        rep.field.check_in(visit_id, latitude=95, longitude=0)

    assert refused.value.fields == {"latitude": ["must be between -90 and 90"]}
    with pytest.raises(LocalValidationError) as half:
        rep.field.check_in(visit_id, latitude=52.5)
    assert half.value.fields == {"longitude": ["latitude and longitude go together"]}
    assert rep.client.get("visit", visit_id)["status"] == "planned"


def test_the_device_keeps_the_discount_and_quantity_it_was_given_as_wire_values(connect, world):
    rep = connect("rep_n")

    created = rep.field.create_order(world.ids["acc_n1"],
                                     [(world.ids["product1"], 4, Decimal("12.5"))])

    line = rep.client.get("order_line", created.lines[0].line_id)
    assert (line["quantity"], line["discount_pct"], line["unit_price"]) == (4, "12.50", "24.90")
    assert "line_total" not in line  # server-owned: never sent
    assert created.lines[0].line_total == "87.15"
