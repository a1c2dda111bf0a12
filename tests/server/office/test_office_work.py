"""Approvals and the dispatch board: decisions through the order workflow, assignments
through the engine, reaching the technician's device."""

from __future__ import annotations

import html

import pytest

from server.domain import import_records
from server.extensions import db
from server.models import Order, WorkOrder
from sync.database import write_transaction
from tests.device import Device
from tests.server.office.pages import office_sign_in, post_form
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


def signed_in(app, world, name: str):
    client = app.test_client()
    user = world.user(name)
    assert office_sign_in(client, user.email, user.password).status_code == 302
    return client


@pytest.fixture
def submitted(app, world) -> str:
    """A rep's order waiting for approval."""
    order = uid()
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "order", [{
            "id": order, "account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id,
            "price_list_id": world.ids["price_list"], "status": "submitted",
            "ordered_at": "2026-03-02T09:00:00Z"}])
    return order


def order_status(app, order_id: str) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).status


@pytest.mark.parametrize("decision, status", [("approve", "approved"),
                                              ("send_back", "rejected")])
def test_the_back_office_approves_or_sends_back_a_submitted_order(
        app, world, submitted, decision, status):
    office = signed_in(app, world, "office")
    page = html.unescape(office.get("/office/approvals").data.decode())
    assert "Café Nord" in page and "rep_n" in page
    post_form(office, f"/office/approvals/{submitted}", {"decision": decision},
              page="/office/approvals")
    assert order_status(app, submitted) == status
    assert "No orders are waiting" in office.get("/office/approvals").data.decode()


def test_a_dispatcher_sees_the_orders_but_the_workflow_refuses_his_approval(
        app, world, submitted):
    dispatcher = signed_in(app, world, "dispatcher")
    page = dispatcher.get("/office/approvals").data.decode()
    assert "Café Nord" in html.unescape(page) and ">Approve<" not in page
    post_form(dispatcher, f"/office/approvals/{submitted}", {"decision": "approve"},
              page="/office/approvals")
    assert order_status(app, submitted) == "submitted"
    assert "Not saved" in dispatcher.get("/office/approvals").data.decode()


def test_the_board_shows_unassigned_work_and_each_technicians_day_with_van_stock(
        app, world):
    new = uid()
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "work_order", [{
            "id": new, "account_id": world.ids["acc_n2"], "title": "Grinder jammed",
            "status": "new", "priority": "high"}])
        import_records(conn, "part_used", [{
            "id": uid(), "work_order_id": new, "part_id": world.ids["part1"], "quantity": 2}])
    dispatcher = signed_in(app, world, "dispatcher")
    page = html.unescape(dispatcher.get("/office/dispatch").data.decode())
    assert "Unassigned (1)" in page and "Grinder jammed" in page
    assert "tech_a" in page and "tech_b" in page
    assert "Gasket \u00d7 2: tech_a 10, tech_b 0" in page


def test_assigning_a_work_order_reaches_the_technicians_device(app, client, world):
    new = uid()
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "work_order", [{
            "id": new, "account_id": world.ids["acc_n2"], "title": "Grinder jammed",
            "status": "new", "priority": "high"}])
    technician = Device(client, world.user("tech_b"))
    technician.sync()
    assert not technician.has("work_order", new)
    dispatcher = signed_in(app, world, "dispatcher")
    answer = post_form(dispatcher, f"/office/dispatch/{new}", {
        "technician_id": world.user("tech_b").id, "scheduled_start": "2026-03-03T08:30",
        "status": "scheduled", "day": "2026-03-03"}, page="/office/dispatch")
    assert answer.status_code == 302
    with app.app_context():
        job = db.session.get(WorkOrder, new)
        assert (job.technician_id, job.status) == (world.user("tech_b").id, "scheduled")
        assert job.scheduled_start.isoformat().startswith("2026-03-03T08:30")
    technician.sync()
    assert technician.data("work_order", new)["technician_id"] == world.user("tech_b").id
    board = html.unescape(dispatcher.get("/office/dispatch?day=2026-03-03").data.decode())
    assert "tech_b (1)" in board


def test_a_technician_cannot_open_the_board(app, world):
    client = app.test_client()
    user = world.user("tech_a")
    assert office_sign_in(client, user.email, user.password).status_code == 403
    assert client.get("/office/dispatch").status_code == 302

