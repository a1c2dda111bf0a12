"""What the SDK queues for edits made offline on top of edits the server has not seen, and
what it does with pending edits of a record that leaves the user's scope
(docs/protocol.md §6.1 and §7)."""

from __future__ import annotations

from client_sdk.syncer import Syncer
from sync.protocol import Op


def test_a_second_offline_edit_keeps_the_server_version_and_takes_its_base_from_the_first(
        connect, world):
    tech = connect("tech_a")
    van = world.ids["van_a"]
    tech.offline()
    tech.client.update("van_stock", van, {"quantity": 7})  # 3 parts used
    tech.client.update("van_stock", van, {"quantity": 5})  # 2 more

    first, second = tech.client.pending()

    assert (first.base_version, first.base) == (1, {"quantity": 10})
    assert (second.base_version, second.base) == (1, {"quantity": 7})
    tech.online()
    tech.client.sync()
    assert tech.client.get("van_stock", van)["quantity"] == 5  # 10 - 3 - 2, counted once


def test_an_edit_of_a_record_created_offline_is_made_on_version_1(connect, world):
    rep = connect("rep_n")
    rep.offline()
    contact = rep.client.create("contact", {"account_id": world.ids["acc_n1"],
                                            "first_name": "Ana", "last_name": "Lind"})
    rep.client.update("contact", contact, {"first_name": "Anna"})

    created, edited = rep.client.pending()

    assert (created.op, created.base_version) == (Op.CREATE, None)
    assert (edited.op, edited.base_version, edited.base) == (Op.UPDATE, 1, {"first_name": "Ana"})
    rep.online()
    rep.client.sync()
    assert rep.client.get("contact", contact)["first_name"] == "Anna"
    assert rep.client.store.version("contact", contact) == 2


def test_pending_edits_of_an_evicted_record_are_kept_and_sent(connect, world, monkeypatch):
    tech, office = connect("tech_a"), connect("office", "office-pc")
    check = world.ids["check_a"]
    tech.client.update("checklist_item", check, {"answer": "120 ppm"})
    office.client.update("work_order", world.ids["wo_a"],
                         {"technician_id": world.user("tech_b").id})
    office.client.sync()
    # The pull runs before the edit is pushed (an edit made while a sync is under way).
    with monkeypatch.context() as patched:
        patched.setattr(Syncer, "push", lambda self, report, on_result: None)
        tech.client.sync()

    assert tech.client.get("checklist_item", check) is None  # evicted from the view
    [pending] = tech.client.pending()
    assert (pending.entity, pending.record_id) == ("checklist_item", check)

    report = tech.client.sync()

    assert report.rejected == 1
    [rejection] = tech.client.rejected()
    assert (rejection["id"], rejection["code"]) == (check, "out_of_scope")
    assert tech.client.pending() == []
