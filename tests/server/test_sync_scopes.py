"""Promise 5: a device receives exactly what its user may see, and follows scope changes."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import Territory, User
from tests.device import Device
from tests.helpers import bearer
from tests.world import build_world


def office_patch(client, office: Device, entity: str, record_id: str, fields: dict):
    response = client.patch(f"/api/v1/records/{entity}/{record_id}", json=fields,
                            headers=bearer(office.token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_rep_receives_their_territory_and_the_catalog_but_nothing_else(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    rep.sync()
    assert rep.has("account", w.ids["acc_n1"]) and rep.has("account", w.ids["acc_n2"])
    assert rep.has("contact", w.ids["contact_n1"])
    assert not rep.has("account", w.ids["acc_s1"])
    assert rep.entities() == {"territory", "account", "contact", "product", "price_list",
                              "price", "part"}
    assert rep.data("territory", w.territories["N"])["code"] == "N"
    assert not rep.has("territory", w.territories["S"])


def test_a_technician_receives_their_work_orders_with_site_asset_checklist_and_van(app, client):
    w = build_world(app)
    tech = Device(client, w.user("tech_a"))
    tech.sync()
    assert tech.has("work_order", w.ids["wo_a"]) and not tech.has("work_order", w.ids["wo_b"])
    assert tech.has("account", w.ids["acc_n1"]) and tech.has("asset", w.ids["asset_n1"])
    assert tech.has("checklist_item", w.ids["check_a"]) and tech.has("van_stock", w.ids["van_a"])
    assert not tech.has("account", w.ids["acc_n2"]) and not tech.has("contact", w.ids["contact_n1"])


def test_the_initial_sync_is_a_paged_snapshot_with_progress(app, client):
    w = build_world(app)
    office = Device(client, w.user("office"))
    first = office.pull_page(limit=5)
    assert first["phase"] == "snapshot" and first["more"] is True
    assert first["progress"]["snapshot_total"] == 18
    assert len(first["changes"]) == 5
    office.sync(limit=5)
    assert len(office.records) == 18


def snapshot(device: Device, limit: int) -> list[tuple[str, str]]:
    """(entity, id) of every change of the snapshot pages, in the order they came."""
    received = []
    while True:
        page = device.pull_page(limit=limit)
        if page["phase"] != "snapshot":
            return received
        received += [(c["entity"], c["id"]) for c in page["changes"]]


@pytest.mark.parametrize("user", ["office", "rep_n", "tech_a"])  # all, two keys, several keys
def test_snapshot_pages_of_any_size_bring_each_record_once_in_one_order(app, client, user):
    # The order is the database's collation of (entity, id), which need not be Python's.
    w = build_world(app)
    whole = snapshot(Device(client, w.user(user)), limit=1000)
    assert len(set(whole)) == len(whole) > 3
    for limit in (1, 2, 3):
        assert snapshot(Device(client, w.user(user), name=f"phone {limit}"), limit) == whole


def test_an_account_moved_to_another_territory_is_evicted_and_delivered_with_its_children(
        app, client):
    w = build_world(app)
    north, south = Device(client, w.user("rep_n")), Device(client, w.user("rep_s"))
    office = Device(client, w.user("office"))
    north.sync(), south.sync()
    office_patch(client, office, "account", w.ids["acc_n1"], {"territory_id": w.territories["S"]})
    received = north.sync()
    assert {(c["op"], c["entity"]) for c in received} >= {("evict", "account"),
                                                          ("evict", "contact")}
    assert not north.has("account", w.ids["acc_n1"])
    assert not north.has("contact", w.ids["contact_n1"])
    south.sync()
    assert south.data("account", w.ids["acc_n1"])["territory_id"] == w.territories["S"]
    assert south.has("contact", w.ids["contact_n1"])


def test_a_reassigned_work_order_leaves_the_old_technician_and_reaches_the_new_one(app, client):
    w = build_world(app)
    a, b = Device(client, w.user("tech_a")), Device(client, w.user("tech_b"))
    dispatcher = Device(client, w.user("dispatcher"))
    a.sync(), b.sync()
    office_patch(client, dispatcher, "work_order", w.ids["wo_a"],
                 {"technician_id": w.user("tech_b").id})
    a.sync()
    for entity, key in [("work_order", "wo_a"), ("checklist_item", "check_a"),
                        ("account", "acc_n1"), ("asset", "asset_n1")]:
        assert not a.has(entity, w.ids[key]), entity
    assert a.has("van_stock", w.ids["van_a"])
    b.sync()
    for entity, key in [("work_order", "wo_a"), ("checklist_item", "check_a"),
                        ("account", "acc_n1"), ("asset", "asset_n1")]:
        assert b.has(entity, w.ids[key]), entity


def test_a_territory_granted_to_a_rep_delivers_its_unchanged_records_whole(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    rep.sync()
    assert not rep.has("account", w.ids["acc_s1"])
    with app.app_context():
        user = db.session.get(User, w.user("rep_n").id)
        user.territories.append(db.session.get(Territory, w.territories["S"]))
        db.session.commit()
    rep.sync()
    assert rep.data("account", w.ids["acc_s1"])["name"] == "Bar Sud"
    with app.app_context():
        user = db.session.get(User, w.user("rep_n").id)
        user.territories = [t for t in user.territories if t.id == w.territories["N"]]
        db.session.commit()
    rep.sync()
    assert not rep.has("account", w.ids["acc_s1"])
    assert rep.has("account", w.ids["acc_n1"])


def test_a_record_that_left_scope_and_changed_before_the_device_synced_is_still_evicted(
        app, client):
    # The rep loses territory N *and* acc_n1 moves to S before the rep syncs again: the
    # eviction must come even though acc_n1 no longer carries a key the rep ever had.
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    office = Device(client, w.user("office"))
    rep.sync()
    with app.app_context():
        user = db.session.get(User, w.user("rep_n").id)
        user.territories = [db.session.get(Territory, w.territories["S"])]
        db.session.commit()
    office_patch(client, office, "account", w.ids["acc_n1"],
                 {"territory_id": w.territories["N"], "name": "Café Nord II"})
    office_patch(client, office, "account", w.ids["acc_n2"], {"territory_id": w.territories["S"]})
    rep.sync()
    assert not rep.has("account", w.ids["acc_n1"])
    assert rep.has("account", w.ids["acc_n2"]) and rep.has("account", w.ids["acc_s1"])
    assert not any(entity == "contact" for entity, _ in rep.records)


def test_deletes_reach_devices_in_scope_as_deletes(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    office = Device(client, w.user("office"))
    rep.sync()
    response = client.delete(f"/api/v1/records/contact/{w.ids['contact_n1']}",
                             headers=bearer(office.token))
    assert response.status_code == 200
    received = rep.sync()
    assert [(c["op"], c["id"]) for c in received] == [("delete", w.ids["contact_n1"])]
    assert not rep.has("contact", w.ids["contact_n1"])


def test_snapshot_progress_counts_up_to_the_total_on_its_last_page(app, client):
    w = build_world(app)
    office = Device(client, w.user("office"))
    pages = []
    while True:
        page = office.pull_page(limit=5)
        pages.append(page)
        if page["phase"] != "snapshot":
            break
    done = [p["progress"]["snapshot_done"] for p in pages if p["phase"] == "snapshot"]
    assert done == [5, 10, 15, 18]
    assert {p["progress"]["snapshot_total"] for p in pages[:-1]} == {18}


def test_the_children_of_a_deleted_account_stay_with_whoever_saw_the_account(app, client):
    # Deleting a parent deletes only the parent: its children keep the scope they inherited
    # (docs/protocol.md §8), so the same users keep seeing them and may still clean them up.
    w = build_world(app)
    north, south = Device(client, w.user("rep_n")), Device(client, w.user("rep_s"))
    office = Device(client, w.user("office"))
    north.sync(), south.sync()
    response = client.delete(f"/api/v1/records/account/{w.ids['acc_n1']}",
                             headers=bearer(office.token))
    assert response.status_code == 200
    received = north.sync()
    assert [(c["op"], c["entity"]) for c in received] == [("delete", "account")]
    assert north.has("contact", w.ids["contact_n1"])
    south.sync()
    assert not south.has("contact", w.ids["contact_n1"])
    [result] = north.push({"entity": "contact", "id": w.ids["contact_n1"], "op": "delete",
                           "base_version": north.version("contact", w.ids["contact_n1"]),
                           "fields": {}})
    assert result["status"] == "applied"


def test_a_deleted_work_order_keeps_its_children_with_the_technician_but_not_the_site(
        app, client):
    w = build_world(app)
    tech = Device(client, w.user("tech_a"))
    dispatcher = Device(client, w.user("dispatcher"))
    tech.sync()
    response = client.delete(f"/api/v1/records/work_order/{w.ids['wo_a']}",
                             headers=bearer(dispatcher.token))
    assert response.status_code == 200
    tech.sync()
    assert not tech.has("work_order", w.ids["wo_a"])
    assert tech.has("checklist_item", w.ids["check_a"])
    assert not tech.has("account", w.ids["acc_n1"]) and not tech.has("asset", w.ids["asset_n1"])


def test_a_technician_sees_every_asset_at_the_sites_of_their_work_orders(app, client):
    w = build_world(app)
    tech = Device(client, w.user("tech_a"))
    office = Device(client, w.user("office"))
    response = client.post("/api/v1/records/asset", headers=bearer(office.token),
                           json={"account_id": w.ids["acc_n1"], "name": "Grinder"})
    assert response.status_code == 201, response.get_json()
    tech.sync()
    assert tech.data("asset", response.get_json()["id"])["name"] == "Grinder"
    assert tech.has("asset", w.ids["asset_n1"])  # the one the work order names
