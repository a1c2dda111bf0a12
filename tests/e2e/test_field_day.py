"""A field day against a real server process: offline work on several devices, concurrent edits
of one work order, reconnection in either order, and every replica converging with the
conflicts recorded as docs/protocol.md §10 and sync/policies.py say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from client_sdk import OfflineError
from client_sdk.field import NewCustomer
from tests.e2e.conftest import Device
from tests.e2e.server_state import (
    assert_replica_matches_server,
    assert_same_replica,
    live_records_of,
    receipts,
    record,
    rejections,
)

pytestmark = pytest.mark.slow

# What each side types during the day.
DISPATCHER_WO = {"status": "scheduled", "scheduled_start": "2026-11-24T08:00:00Z",
                 "priority": "high", "description": "Customer reports scale; bring a gasket"}
TECH_DESCRIPTION = "Scale in the boiler; the gasket was worn"
RESOLUTION = "Descaled the boiler, replaced the gasket"
DISPATCHER_ACCOUNT = {"phone": "+33 1 00 00 00 01", "notes": "Office: pays late, call first"}
REP_ACCOUNT = {"phone": "+33 6 12 34 56 78", "notes": "Rep: new manager since June"}
NEW_PRICE = "135.00"  # the office changes product2's price while the rep is offline


@dataclass
class Office:
    """The back office in a browser: plain HTTP against the server's API."""

    http: httpx.Client

    @classmethod
    def sign_in(cls, server_url: str, user) -> Office:
        http = httpx.Client(base_url=server_url + "/api/v1", timeout=10.0)
        answer = http.post("/auth/login", json={"email": user.email, "password": user.password,
                                                "device_name": "office browser"})
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = "Bearer " + answer.json()["access_token"]
        return cls(http)

    def call(self, method: str, path: str, **kwargs) -> dict:
        answer = self.http.request(method, path, **kwargs)
        assert answer.is_success, answer.text
        return answer.json()


@pytest.fixture
def office(live_server, world) -> Iterator[Office]:
    office = Office.sign_in(live_server.url, world.user("office"))
    yield office
    office.http.close()


def morning(connect) -> dict[str, Device]:
    """Everyone signs in and downloads their scope while still in the office."""
    return {"rep": connect("rep_n", "rep laptop"), "tech": connect("tech_a", "tech tablet"),
            "dispatcher": connect("dispatcher", "dispatch desk"),
            "rep_s": connect("rep_s", "rep laptop")}


def dispatcher_edits(dispatcher: Device, ids: dict[str, str]) -> None:
    """Offline (a train with no signal): reschedules the work order, restocks the van."""
    client = dispatcher.client
    client.update("work_order", ids["wo_a"], DISPATCHER_WO)
    client.update("van_stock", ids["van_a"], {"quantity": 15})  # restock +5
    client.update("account", ids["acc_n1"], DISPATCHER_ACCOUNT)


def rep_day(rep: Device, world) -> NewCustomer:
    """A new customer with a visit and an order, and an edit to an existing account."""
    ids = world.ids
    rep.client.update("account", ids["acc_n1"], REP_ACCOUNT)
    # A contact corrected, then found to be a duplicate: it must stay deleted.
    rep.client.update("contact", ids["contact_n1"], {"phone": "+33 6 98 76 54 32"})
    rep.client.delete("contact", ids["contact_n1"])
    new = rep.field.create_account_with_order(
        world.territories["N"], "Trattoria Nuova",
        [(ids["product1"], 3, "10"), (ids["product2"], 1)],
        city="Lyon", country="fr", visit_notes="Walk-in", order_notes="Deliver Tuesday")
    rep.field.complete_visit(new.visit_id, "First order taken")
    rep.field.submit_order(new.order.order_id)
    return new


def technician_day(tech: Device, ids: dict[str, str]) -> None:
    """The work order done on site: parts, travel and labor, the checklist, a signature."""
    wo = ids["wo_a"]
    tech.field.start_work_order(wo)
    tech.field.use_part(wo, ids["part1"], 2)
    tech.field.log_time(wo, "2026-11-23T08:00:00+01:00", "2026-11-23T08:40:00+01:00", "travel")
    tech.field.log_time(wo, "2026-11-23T08:40:00+01:00", "2026-11-23T10:05:00+01:00", "labor")
    tech.field.answer_checklist(ids["check_a"], True, "7 °dH")
    tech.client.update("work_order", wo, {"description": TECH_DESCRIPTION})
    tech.field.complete_work_order(wo, RESOLUTION, signed_by="Ana Nord")


def expected_conflicts(order: str, devices: dict[str, Device], ids: dict[str, str]) -> set:
    """What the second device to push an edit of the same field meets, decided per policy:
    (record, field, policy, base, server value, client value, result, status, device)."""
    wo, acc = ids["wo_a"], ids["acc_n1"]
    d_desc, d_phone, d_notes = (DISPATCHER_WO["description"], DISPATCHER_ACCOUNT["phone"],
                                DISPATCHER_ACCOUNT["notes"])
    r_phone, r_notes = REP_ACCOUNT["phone"], REP_ACCOUNT["notes"]
    if order == "dispatcher_first":
        tech, rep = devices["tech"].device_id, devices["rep"].device_id
        return {
            # state precedence: in_progress ranks above scheduled (completed follows cleanly)
            (wo, "status", "state", "dispatched", "scheduled", "in_progress", "in_progress",
             "resolved", tech),
            # last writer wins: the technician typed after the dispatcher
            (wo, "description", "lww", None, d_desc, TECH_DESCRIPTION, TECH_DESCRIPTION,
             "resolved", tech),
            (acc, "phone", "lww", None, d_phone, r_phone, r_phone, "resolved", rep),
            # manual: the server's value stays and the conflict waits for the back office
            (acc, "notes", "manual", None, d_notes, r_notes, d_notes, "open", rep),
        }
    dispatcher = devices["dispatcher"].device_id
    return {
        # the technician's completed beats the dispatcher's concurrent scheduled
        (wo, "status", "state", "dispatched", "completed", "scheduled", "completed",
         "resolved", dispatcher),
        (wo, "description", "lww", None, TECH_DESCRIPTION, d_desc, TECH_DESCRIPTION,
         "resolved", dispatcher),
        (acc, "phone", "lww", None, r_phone, d_phone, r_phone, "resolved", dispatcher),
        (acc, "notes", "manual", None, r_notes, d_notes, r_notes, "open", dispatcher),
    }


def server_conflicts(office: Office) -> set:
    items = office.call("GET", "/conflicts", params={"limit": 500})["items"]
    return {(c["record_id"], c["field"], c["policy"], c["base"], c["server_value"],
             c["client_value"], c["result"], c["status"], c["device_id"]) for c in items}


def device_conflicts(devices: dict[str, Device]) -> set:
    """The same conflicts as each pushing device recorded them from its push results."""
    return {(c["id"], d["field"], d["policy"], d["base"], d["server"], d["client"],
             d["result"], "open" if d["open"] else "resolved", device.device_id)
            for device in devices.values() for c in device.client.conflicts()
            for d in [c["detail"]]}


def change_price(office: Office, rep: Device, ids: dict[str, str]) -> None:
    price = rep.client.query("price", product_id=ids["product2"])[0]
    assert price["unit_price"] == "129.00"
    office.call("PATCH", f"/records/price/{price['id']}", json={"unit_price": NEW_PRICE})


def assert_service_outcome(engine, ids: dict[str, str]) -> None:
    wo = record(engine, "work_order", ids["wo_a"])[1]
    assert wo["status"] == "completed"
    assert wo["started_at"] and wo["completed_at"]
    assert (wo["description"], wo["resolution"], wo["signed_by"]) == (
        TECH_DESCRIPTION, RESOLUTION, "Ana Nord")
    # fields only the dispatcher changed merge in whatever the order
    assert (wo["priority"], wo["scheduled_start"]) == ("high", DISPATCHER_WO["scheduled_start"])
    # a counter: 10 on the van, 2 used on site, 5 restocked by the office
    assert record(engine, "van_stock", ids["van_a"])[1]["quantity"] == 13
    used = [d for _, d in live_records_of(engine, "part_used").values()]
    assert [(u["work_order_id"], u["part_id"], u["quantity"]) for u in used] == [
        (ids["wo_a"], ids["part1"], 2)]
    times = sorted((d["kind"], d["minutes"])
                   for _, d in live_records_of(engine, "time_entry").values())
    assert times == [("labor", 85), ("travel", 40)]
    item = record(engine, "checklist_item", ids["check_a"])[1]
    assert (item["checked"], item["answer"]) == (True, "7 °dH")


def assert_sales_outcome(engine, new: NewCustomer, devices: dict[str, Device]) -> None:
    account = record(engine, "account", new.account_id)[1]
    assert (account["name"], account["city"], account["country"]) == (
        "Trattoria Nuova", "Lyon", "FR")
    visit = record(engine, "visit", new.visit_id)[1]
    assert (visit["account_id"], visit["status"], visit["outcome"]) == (
        new.account_id, "completed", "First order taken")
    order = record(engine, "order", new.order.order_id)[1]
    assert (order["visit_id"], order["status"]) == (new.visit_id, "submitted")
    # The device priced product2 at the old 129.00; the server's new price is final and
    # reaches the rep's replica.
    assert [line.unit_price for line in new.order.lines] == ["24.90", "129.00"]
    shown = sorted((line.quantity, line.unit_price, line.line_total)
                   for line in devices["rep"].field.order_lines(new.order.order_id))
    assert shown == [(1, NEW_PRICE, NEW_PRICE), (3, "24.90", "67.23")]
    # scopes: the other territory's rep and the technician never see the new customer
    assert devices["dispatcher"].client.get("account", new.account_id) is not None
    assert devices["rep_s"].client.get("account", new.account_id) is None
    assert devices["tech"].client.get("order", new.order.order_id) is None


def assert_each_mutation_applied_once(engine, devices: dict[str, Device]) -> None:
    assert rejections(engine) == []
    for device in devices.values():
        written = int(device.client.store.meta("next_mutation_id") or 1) - 1
        assert receipts(engine, device.device_id) == list(range(1, written + 1))


def work_offline(devices: dict[str, Device], office: Office, world) -> NewCustomer:
    """Everyone loses the network; the dispatcher edits first, the field after; meanwhile
    the office, still online, changes a price."""
    for device in devices.values():
        device.offline()
    dispatcher_edits(devices["dispatcher"], world.ids)
    time.sleep(0.01)  # every edit in the field below is stamped later than the dispatcher's
    new = rep_day(devices["rep"], world)
    technician_day(devices["tech"], world.ids)
    change_price(office, devices["rep"], world.ids)
    tech = devices["tech"].client
    with pytest.raises(OfflineError):
        tech.sync()
    assert len(tech.pending()) == 8 and tech.status().last_error
    return new


def reconnect(devices: dict[str, Device], order: str) -> None:
    """Back online one after the other, then a second round so everyone has everything."""
    first = ["dispatcher", "rep", "tech"] if order == "dispatcher_first" else [
        "rep", "tech", "dispatcher"]
    for name in [*first, "rep_s"]:
        devices[name].online()
        assert devices[name].client.sync().rejected == 0
    for device in devices.values():
        device.client.sync()


def override_open_conflict(office: Office, devices: dict[str, Device], engine) -> None:
    """The back office settles the open notes conflict for the second writer's value."""
    [conflict] = office.call("GET", "/conflicts", params={"status": "open"})["items"]
    office.call("POST", f"/conflicts/{conflict['id']}/override", json={"choose": "client"})
    for device in devices.values():
        device.client.sync()
    assert record(engine, "account", conflict["record_id"])[1]["notes"] == conflict[
        "client_value"]


def assert_everyone_converged(connect, devices: dict[str, Device], engine) -> None:
    """Each replica holds the server's records at the server's versions, and exactly what a
    fresh download for the same user holds."""
    for device in devices.values():
        assert_replica_matches_server(device.client, engine)
        fresh = connect(device.user.name, f"{device.name} (new)")
        assert_same_replica(device.client, fresh.client)


@pytest.mark.parametrize("order", ["dispatcher_first", "field_first"])
def test_a_field_day_offline_converges_with_conflicts_decided_by_policy(
        order, connect, office, world, server_engine):
    devices = morning(connect)
    new = work_offline(devices, office, world)
    reconnect(devices, order)

    assert_service_outcome(server_engine, world.ids)
    assert_sales_outcome(server_engine, new, devices)
    assert live_records_of(server_engine, "contact") == {}  # corrected, then deleted: gone
    assert all(d.client.get("contact", world.ids["contact_n1"]) is None
               for d in devices.values())
    assert_each_mutation_applied_once(server_engine, devices)
    expected = expected_conflicts(order, devices, world.ids)
    assert server_conflicts(office) == expected
    assert device_conflicts(devices) == expected

    override_open_conflict(office, devices, server_engine)
    assert_everyone_converged(connect, devices, server_engine)


def test_devices_syncing_at_the_same_moment_lose_no_change(connect, world, server_engine):
    """The technician and the dispatcher keep changing the same van stock (a counter) and
    the same work order (different fields), and sync at the same instant, round after round:
    the server's workers apply both sides' pushes, neither overwriting the other."""
    ids, rounds = world.ids, 8
    van, wo = ids["van_a"], ids["wo_a"]
    tech, dispatcher = connect("tech_a", "tech tablet"), connect("dispatcher", "dispatch desk")
    van_version = record(server_engine, "van_stock", van)[0]
    for n in range(rounds):
        take = tech.client.get("van_stock", van)["quantity"] - 1
        tech.client.update("van_stock", van, {"quantity": take})
        tech.client.update("work_order", wo, {"description": f"visit {n}"})
        restock = dispatcher.client.get("van_stock", van)["quantity"] + 2
        dispatcher.client.update("van_stock", van, {"quantity": restock})
        dispatcher.client.update("work_order", wo,
                                 {"scheduled_start": f"2026-12-{n + 1:02d}T08:00:00Z"})
        sync_together([tech, dispatcher])
    for device in (tech, dispatcher):
        device.client.sync()

    version, stock = record(server_engine, "van_stock", van)
    assert (version, stock["quantity"]) == (van_version + 2 * rounds, 10 + rounds)
    version, order = record(server_engine, "work_order", wo)
    assert version == 1 + 2 * rounds
    assert (order["description"], order["scheduled_start"]) == (
        f"visit {rounds - 1}", f"2026-12-{rounds:02d}T08:00:00Z")
    for device in (tech, dispatcher):
        assert_replica_matches_server(device.client, server_engine)


def sync_together(devices: list[Device]) -> None:
    """Start every device's sync at the same instant; fail on any error."""
    start = threading.Barrier(len(devices))
    errors: list[BaseException] = []

    def run(device: Device) -> None:
        try:
            start.wait(timeout=30)
            device.client.sync()
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(device,)) for device in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads), errors
