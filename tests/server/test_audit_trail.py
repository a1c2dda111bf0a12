"""The audit trail: every write to a replicated record leaves who, how and each field's
before and after, whatever the way in (device push, office edit, conflict override), and
keeps it when retention forgets the change log."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.jobs import sync_retention
from server.models import SYNC_TABLES
from sync.sqltypes import utcnow
from tests.device import Device
from tests.server.test_errors import assert_error
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def office(client, world):
    return Device(client, world.user("office"), name="office pc")


def history(office, entity, record_id, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = office.client.get(f"/api/v1/records/{entity}/{record_id}/history?{query}",
                                 headers={"Authorization": f"Bearer {office.token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_device_push_leaves_who_and_each_fields_before_and_after(client, world, office):
    tech = Device(client, world.user("tech_a"), name="tablet")
    van = world.ids["van_a"]
    [result] = tech.push({"entity": "van_stock", "id": van, "op": "update", "base_version": 1,
                          "fields": {"quantity": 7}, "base": {"quantity": 10}})
    assert result["status"] == "applied"

    *_, entry = history(office, "van_stock", van)["items"]

    assert (entry["op"], entry["source"], entry["version"]) == ("update", "push", 2)
    assert entry["user"]["id"] == world.user("tech_a").id
    assert entry["device"] == {"id": tech.device_id, "name": "tablet"}
    assert entry["mutation_id"] == 1
    assert entry["changes"] == [{"field": "quantity", "before": 10, "after": 7}]


def test_a_create_lists_every_field_it_set_and_a_delete_every_field_it_removed(
        client, world, office):
    rep = Device(client, world.user("rep_n"))
    contact = uid()
    rep.push({"entity": "contact", "id": contact, "op": "create",
              "fields": {"account_id": world.ids["acc_n1"], "first_name": "Ana",
                         "last_name": "Lind"}},
             {"entity": "contact", "id": contact, "op": "delete", "base_version": 1,
              "fields": {}})

    created, deleted = history(office, "contact", contact)["items"]

    assert created["op"] == "create"
    assert {"field": "first_name", "before": None, "after": "Ana"} in created["changes"]
    assert {"field": "title", "before": None, "after": None} in created["changes"]
    assert deleted["op"] == "delete" and deleted["version"] == 2
    assert {"field": "last_name", "before": "Lind", "after": None} in deleted["changes"]


def test_an_office_edit_is_recorded_with_its_user_and_no_device(client, world, office):
    account = world.ids["acc_n1"]
    response = client.patch(f"/api/v1/records/account/{account}", json={"phone": "+49 40 1"},
                            headers={"Authorization": f"Bearer {office.token}"})
    assert response.status_code == 200

    *_, entry = history(office, "account", account)["items"]

    assert (entry["op"], entry["source"], entry["device"]) == ("update", "office", None)
    assert entry["user"]["id"] == world.user("office").id
    assert entry["changes"] == [{"field": "phone", "before": None, "after": "+49 40 1"}]
    first = history(office, "account", account)["items"][0]  # written alone: the import
    assert first["op"] == "create" and first["source"] == "server" and first["user"] is None
    assert {"field": "phone", "before": None, "after": None} in first["changes"]


def test_a_conflict_override_is_recorded_as_such(client, world, office):
    account = world.ids["acc_n1"]
    auth = {"Authorization": f"Bearer {office.token}"}
    client.patch(f"/api/v1/records/account/{account}", json={"notes": "office"}, headers=auth)
    rep = Device(client, world.user("rep_n"))
    [result] = rep.push({"entity": "account", "id": account, "op": "update", "base_version": 1,
                         "fields": {"notes": "rep"}, "base": {"notes": None}})
    [conflict] = result["conflicts"]
    assert conflict["open"] is True  # notes are `manual`: the office value stands
    [stored] = client.get(f"/api/v1/conflicts?record_id={account}", headers=auth
                          ).get_json()["items"]

    overridden = client.post(f"/api/v1/conflicts/{stored['id']}/override",
                             json={"choose": "value", "value": "agreed"}, headers=auth)
    assert overridden.status_code == 200, overridden.get_json()

    *_, entry = history(office, "account", account)["items"]
    assert (entry["op"], entry["source"]) == ("update", "override")
    assert entry["user"]["id"] == world.user("office").id
    assert entry["changes"] == [{"field": "notes", "before": "office", "after": "agreed"}]


def test_a_rejected_mutation_leaves_no_entry(client, world, office):
    van = world.ids["van_a"]
    tech = Device(client, world.user("tech_a"))
    before = history(office, "van_stock", van)["items"]
    [result] = tech.push({"entity": "van_stock", "id": van, "op": "update", "base_version": 1,
                          "fields": {"quantity": -5}, "base": {"quantity": 10}})
    assert result["status"] == "rejected"
    assert history(office, "van_stock", van)["items"] == before


def test_retention_keeps_the_audit_trail(app, client, world, office):
    rep = Device(client, world.user("rep_n"))
    contact = uid()
    rep.push({"entity": "contact", "id": contact, "op": "create",
              "fields": {"account_id": world.ids["acc_n1"], "first_name": "Ana",
                         "last_name": "Lind"}},
             {"entity": "contact", "id": contact, "op": "delete", "base_version": 1,
              "fields": {}})
    entries = history(office, "contact", contact)["items"]
    app.config.update(SYNC_RETENTION_DAYS=0, SYNC_COMPACT_AFTER_HOURS=0, SYNC_RECEIPT_DAYS=0)

    report = sync_retention(app)

    assert report.tombstones_purged >= 1  # the contact itself is forgotten by sync
    with app.app_context():
        c = SYNC_TABLES.change
        logged = db.session.scalar(sa.select(sa.func.count()).select_from(c).where(
            c.c.record_id == contact, c.c.created_at < utcnow() + timedelta(days=1)))
    assert logged == 0
    assert history(office, "contact", contact)["items"] == entries


def test_history_pages_oldest_first(client, world, office):
    account = world.ids["acc_n1"]
    auth = {"Authorization": f"Bearer {office.token}"}
    for n in range(3):
        client.patch(f"/api/v1/records/account/{account}", json={"phone": f"+1 {n}"},
                     headers=auth)
    first = history(office, "account", account, limit=3)  # the import and two edits
    second = history(office, "account", account, limit=3, after=first["next"])

    assert (len(first["items"]), len(second["items"])) == (3, 1)
    versions = [e["version"] for e in first["items"] + second["items"]]
    assert versions == sorted(versions) and len(versions) == len(set(versions))
    assert second["next"] is None
    assert [e["changes"][0]["after"] for e in second["items"]][-1] == "+1 2"


def test_history_is_for_the_office_and_of_known_records(client, world, office):
    rep = Device(client, world.user("rep_n"))
    account = world.ids["acc_n1"]
    assert_error(client.get(f"/api/v1/records/account/{account}/history",
                            headers={"Authorization": f"Bearer {rep.token}"}), 403, "forbidden")
    assert_error(client.get(f"/api/v1/records/account/{uid()}/history",
                            headers={"Authorization": f"Bearer {office.token}"}),
                 404, "not_found")


@pytest.mark.parametrize("after", ["243917282774224573594623163760640", "-1", "soon"])
def test_a_history_page_after_no_possible_version_answers_422_not_500(client, world, office,
                                                                       after):
    # Found by the API contract run: a version beyond 64 bits overflowed the database driver.
    account = world.ids["acc_n1"]
    response = client.get(f"/api/v1/records/account/{account}/history?after={after}",
                          headers={"Authorization": f"Bearer {office.token}"})
    assert_error(response, 422, "validation_failed")
