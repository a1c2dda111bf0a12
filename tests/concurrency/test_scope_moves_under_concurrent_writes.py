"""Pushes and office moves of scope at the same moment (issue 15): no acknowledged write is
lost, no child is stranded in its old scope, no deadlock answers 500, and every device
converges on the server's state for its scope.

Each test runs ROUNDS rounds (FIELDSYNC_RACE_ROUNDS, 8 by default; the soak target runs
hundreds) on fresh records, with the two writers released together on real threads. On
SQLite writers are serialised by the database, so there the suite checks the same promises
for each order the writers may take; on PostgreSQL they truly overlap.
"""

from __future__ import annotations

from functools import partial

import pytest

from tests.concurrency import scenario as s
from tests.concurrency.race import (
    ROUNDS,
    Ledger,
    assert_replica_matches,
    at_once,
    device,
    office_patch,
)
from tests.world import build_world


@pytest.fixture
def w(app):
    return build_world(app)


@pytest.fixture
def ledger():
    return Ledger()


def settle(app, *devices) -> None:
    for dev in devices:
        assert_replica_matches(app, dev)


def push_recorded(ledger: Ledger, dev, *mutations: dict):
    """A push whose answers the ledger keeps, to be held to promise 1."""
    def run():
        results = dev.push(*mutations)
        ledger.pushed(dev, list(mutations), results)
        return results
    return run


def test_a_checklist_answer_pushed_while_its_work_order_is_reassigned_is_never_lost(
        app, w, ledger):
    tech_a, tech_b = device(app, w.users["tech_a"]), device(app, w.users["tech_b"])
    office = device(app, w.users["dispatcher"])
    for n in range(ROUNDS):
        wo, item = s.work_order(app, w, "tech_a")
        tech_a.sync()
        answer = s.update("checklist_item", item, tech_a.version("checklist_item", item),
                          {"answer": f"answer-{n}"}, {"answer": None})
        at_once(push_recorded(ledger, tech_a, answer),
                partial(office_patch, office, "work_order", wo,
                                     {"technician_id": w.users["tech_b"].id}))
        ledger.check_acknowledged(app)
        settle(app, tech_a, tech_b)


@pytest.fixture
def reps(app, w):
    """The north and south reps' devices and the back office's, for territory moves."""
    return (device(app, w.users["rep_n"]), device(app, w.users["rep_s"]),
            device(app, w.users["office"]))


def territory_round(app, w, ledger, reps, make_mutation, *, move=None) -> None:
    """One round: a fresh account in N; the north rep pushes `make_mutation(account)` while
    the office moves the account to S (or makes `move(office, account)`); then promise 1
    for the push and promises 3-5 for both reps' devices."""
    rep_n, rep_s, office = reps
    acc, contact = s.account(app, w)
    mutation = make_mutation(acc, contact)  # may seed more records under the account
    rep_n.sync()
    mutation = mutation(rep_n) if callable(mutation) else mutation
    office_move = (move(office, acc) if move else
                   partial(office_patch, office, "account", acc,
                           {"territory_id": w.territories["S"]}))
    at_once(push_recorded(ledger, rep_n, mutation), office_move)
    ledger.check_acknowledged(app)
    settle(app, rep_n, rep_s)


def test_a_contact_updated_while_its_account_changes_territory_is_never_lost(
        app, w, ledger, reps):
    for n in range(ROUNDS):
        territory_round(app, w, ledger, reps, lambda acc, contact, n=n: lambda rep: s.update(
            "contact", contact, rep.version("contact", contact),
            {"phone": f"+33 1 00 00 00 {n:02d}"}, {"phone": None}))


@pytest.mark.parametrize("entity,fields", [
    ("part_used", lambda w, wo: {"work_order_id": wo, "part_id": w.ids["part1"],
                                 "quantity": 1}),
    ("attachment", lambda w, wo: {"work_order_id": wo, "kind": "photo",
                                  "filename": "pump.jpg", "content_type": "image/jpeg",
                                  "size_bytes": 1000}),
    ("time_entry", lambda w, wo: {"work_order_id": wo, "technician_id": w.users["tech_a"].id,
                                  "kind": "labor", "started_at": "2026-12-08T08:00:00Z",
                                  "ended_at": "2026-12-08T09:00:00Z", "minutes": 60}),
])
def test_a_child_created_while_its_work_order_is_reassigned_follows_the_work_order(
        app, w, ledger, entity, fields):
    tech_a, tech_b = device(app, w.users["tech_a"]), device(app, w.users["tech_b"])
    office = device(app, w.users["dispatcher"])
    for _ in range(ROUNDS):
        wo, _item = s.work_order(app, w, "tech_a")
        tech_a.sync()
        child = s.create(entity, fields(w, wo))
        at_once(push_recorded(ledger, tech_a, child),
                partial(office_patch, office, "work_order", wo,
                                     {"technician_id": w.users["tech_b"].id}))
        ledger.check_acknowledged(app)
        settle(app, tech_a, tech_b)
        tech_b_has = tech_b.has(entity, child["id"])
        created = _exists(app, entity, child["id"])
        assert tech_b_has == created, f"the new technician's device is missing {entity}"


def test_a_contact_created_while_its_account_changes_territory_follows_the_account(
        app, w, ledger, reps):
    for _ in range(ROUNDS):
        territory_round(app, w, ledger, reps, lambda acc, _contact: s.create(
            "contact", {"account_id": acc, "first_name": "Lea", "last_name": "Moss"}))


def test_an_order_line_added_while_its_account_changes_territory_follows_its_order(
        app, w, ledger, reps):
    for _ in range(ROUNDS):
        territory_round(app, w, ledger, reps, lambda acc, _contact: s.create(
            "order_line", {"order_id": s.draft_order(app, w, acc),
                           "product_id": w.ids["product1"], "quantity": 2}))


def test_an_order_line_added_while_its_order_moves_to_another_account_follows_the_order(
        app, w, ledger, reps):
    orders = {}  # account -> its draft order

    def line(acc, _contact):
        orders[acc] = s.draft_order(app, w, acc)
        return s.create("order_line", {"order_id": orders[acc],
                                       "product_id": w.ids["product2"], "quantity": 1})

    def move_order(office, acc):
        return partial(office_patch, office, "order", orders[acc],
                       {"account_id": w.ids["acc_s1"]})

    for _ in range(ROUNDS):
        territory_round(app, w, ledger, reps, line, move=move_order)


def test_a_visit_updated_while_its_account_changes_territory_is_never_lost(
        app, w, ledger, reps):
    for n in range(ROUNDS):
        def notes(acc, _contact, n=n):
            visit = s.visit(app, w, acc)
            return lambda rep: s.update("visit", visit, rep.version("visit", visit),
                                        {"notes": f"round {n}"}, {"notes": None})

        territory_round(app, w, ledger, reps, notes)


def test_a_delete_racing_a_territory_move_is_kept_and_reaches_both_territories(
        app, w, ledger, reps):
    for _ in range(ROUNDS):
        territory_round(app, w, ledger, reps, lambda acc, contact: lambda rep: s.delete(
            "contact", contact, rep.version("contact", contact)))


def test_two_office_users_moving_the_same_work_order_leave_every_device_consistent(app, w):
    from tests.helpers import create_user

    tech_c = create_user(app, role="technician", name="tech_c")
    techs = [device(app, w.users["tech_a"]), device(app, w.users["tech_b"]),
             device(app, tech_c)]
    dispatcher, office = device(app, w.users["dispatcher"]), device(app, w.users["office"])
    for _ in range(ROUNDS):
        wo, _item = s.work_order(app, w, "tech_a")
        first, second = at_once(
            partial(office_patch, dispatcher, "work_order", wo,
                                 {"technician_id": w.users["tech_b"].id}),
            partial(office_patch, office, "work_order", wo, {"technician_id": tech_c.id}))
        assert {first["version"], second["version"]} == {2, 3}
        settle(app, *techs)


def test_pushes_touching_a_work_order_and_its_checklist_in_opposite_orders_never_fail(
        app, w, ledger):
    tech_a, tech_b = device(app, w.users["tech_a"]), device(app, w.users["tech_b"])
    dispatcher = device(app, w.users["dispatcher"])
    for n in range(ROUNDS):
        wo, item = s.work_order(app, w, "tech_a")
        tech_a.sync()
        dispatcher.sync()
        technician = [
            s.update("checklist_item", item, 1, {"answer": f"ok {n}"}, {"answer": None}),
            s.update("work_order", wo, 1, {"description": f"seen {n}"},
                     {"description": None}),
        ]
        # The reassignment re-keys the checklist item after locking the work order; the
        # technician's batch holds the item and wants the work order.
        office = [s.update("work_order", wo, 1, {"technician_id": w.users["tech_b"].id},
                           {"technician_id": w.users["tech_a"].id})]
        at_once(push_recorded(ledger, tech_a, *technician),
                push_recorded(ledger, dispatcher, *office))
        ledger.check_acknowledged(app)
        settle(app, tech_a, tech_b)


def _exists(app, entity: str, record_id: str) -> bool:
    import sqlalchemy as sa

    from server.extensions import db
    from server.models import SYNC_TABLES

    r = SYNC_TABLES.record
    with app.app_context():
        return db.session.execute(sa.select(r.c.deleted).where(
            r.c.entity == entity, r.c.record_id == record_id)).scalar() is False
