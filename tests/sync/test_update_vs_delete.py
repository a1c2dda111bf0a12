"""Update against delete: each entity's declared outcome, and the losing side on record.

A device edits offline from version v; meanwhile the server deletes the record (update vs
delete), or updates it while the device deletes it (delete vs update). POLICIES declares per
entity who wins; the engine must apply that outcome and store the conflict with both sides.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.domain import REGISTRY
from server.domain.policies import POLICIES
from sync.engine import SyncEngine
from sync.entities import Registry
from sync.policies import DeleteRule, EntityPolicy
from sync.protocol import Op, Status
from tests.sync.harness import Harness, create, delete, uid, update

# One field per entity that a back-office device may edit, and the new value it sends.
EDITS = {
    "territory": ("name", "Territory North"),
    "product": ("name", "Espresso beans 2kg"),
    "price_list": ("name", "2026 revised"),
    "price": ("unit_price", "30.00"),
    "part": ("name", "Gasket, large"),
    "account": ("name", "Café Nord & Fils"),
    "contact": ("first_name", "Anna"),
    "visit": ("notes", "Met the owner"),
    "order": ("notes", "Deliver on Monday"),
    "order_line": ("quantity", 3),
    "asset": ("notes", "Leaks at the group head"),
    "work_order": ("description", "Descale and check the pump"),
    "van_stock": ("quantity", 8),
    "part_used": ("notes", "Old gasket was cracked"),
    "time_entry": ("notes", "Includes travel"),
    "checklist_item": ("answer", "12 dH"),
    "attachment": ("filename", "after.jpg"),
}


def declaring(rule: DeleteRule) -> set[str]:
    """Entities whose update of a record deleted meanwhile is decided by `rule`."""
    return {e for e, p in POLICIES.items() if p.on_update_deleted is rule}


def seed_every_entity(h: Harness) -> dict[str, str]:
    """One live record of every replicated entity; returns entity -> record id."""
    w, ids = h.w, h.w.ids
    made = {"visit": uid(), "order": uid(), "order_line": uid(), "part_used": uid(),
            "time_entry": uid(), "attachment": uid()}
    rep, tech = w.users["rep_n"].id, w.users["tech_a"].id
    with h.tx() as conn:
        h.sync.write_many(conn, [
            ("visit", made["visit"], Op.CREATE, {"account_id": ids["acc_n1"], "rep_id": rep}),
            ("order", made["order"], Op.CREATE,
             {"account_id": ids["acc_n1"], "rep_id": rep, "price_list_id": ids["price_list"]}),
            ("order_line", made["order_line"], Op.CREATE,
             {"order_id": made["order"], "product_id": ids["product1"], "quantity": 2}),
            ("part_used", made["part_used"], Op.CREATE,
             {"work_order_id": ids["wo_a"], "part_id": ids["part1"], "quantity": 1}),
            ("time_entry", made["time_entry"], Op.CREATE,
             {"work_order_id": ids["wo_a"], "technician_id": tech, "kind": "labor",
              "started_at": "2026-03-02T08:00:00Z", "minutes": 30}),
            ("attachment", made["attachment"], Op.CREATE,
             {"work_order_id": ids["wo_a"], "kind": "photo", "filename": "before.jpg",
              "content_type": "image/jpeg", "size_bytes": 2048}),
        ])
    price = h.find_id("price", price_list_id=ids["price_list"], product_id=ids["product1"])
    return {
        **made, "territory": w.territories["N"], "product": ids["product1"],
        "price_list": ids["price_list"], "price": price, "part": ids["part1"],
        "account": ids["acc_n1"], "contact": ids["contact_n1"], "asset": ids["asset_n1"],
        "work_order": ids["wo_a"], "van_stock": ids["van_a"], "checklist_item": ids["check_a"],
    }


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def test_every_entity_with_a_policy_has_a_case_here():
    assert set(EDITS) == set(POLICIES) == {spec.name for spec in REGISTRY}


# -- a device updates what the server deleted meanwhile --------------------------------------


@pytest.mark.parametrize("entity", sorted(POLICIES))
def test_a_device_update_of_a_record_deleted_meanwhile_follows_the_declared_rule(h, entity):
    record_id = seed_every_entity(h)[entity]
    name, value = EDITS[entity]
    before = h.record(entity, record_id)
    h.write(entity, record_id, Op.DELETE)
    logged = h.change_count(entity, record_id)

    [result] = h.push("office", [update(1, entity, record_id, before.version, {name: value},
                                        base={name: before.data[name]})])

    after = h.record(entity, record_id)
    [conflict] = h.conflicts(entity, record_id)
    assert result.status is Status.CONFLICT
    assert [c.kind for c in result.conflicts] == ["update_deleted"]
    assert (conflict["kind"], conflict["field"]) == ("update_deleted", None)
    assert conflict["client_value"] == {name: value}
    assert conflict["server_value"] is None  # the server side is the deletion
    assert conflict["base"] == {name: before.data[name]}
    assert conflict["status"] == "resolved"
    if POLICIES[entity].on_update_deleted is DeleteRule.UPDATE_WINS:
        assert (conflict["policy"], conflict["result"]) == ("update_wins", "restored")
        assert not after.deleted and after.version == before.version + 2
        assert after.data[name] == value
        assert h.domain_row(entity, record_id)["deleted_at"] is None
        assert result.record.version == after.version and not result.record.deleted
        assert h.change_count(entity, record_id) == logged + 1
    else:
        assert (conflict["policy"], conflict["result"]) == ("delete_wins", "deleted")
        assert after.deleted and after.version == before.version + 1
        assert after.data[name] == before.data[name]
        assert h.domain_row(entity, record_id)["deleted_at"] is not None
        assert result.record.deleted
        assert h.change_count(entity, record_id) == logged


def test_the_policy_table_declares_both_update_versus_delete_outcomes():
    # The parametrized test above exercises both branches only while both are declared.
    assert {"account", "contact", "van_stock"} <= declaring(DeleteRule.UPDATE_WINS)
    assert {"work_order", "order", "visit"} <= declaring(DeleteRule.DELETE_WINS)


def test_a_rep_restores_an_account_the_back_office_deleted_while_they_were_offline(h):
    account = h.w.ids["acc_n1"]
    before = h.record("account", account)
    h.write("account", account, Op.DELETE)
    logged = h.change_count("account", account)
    mutation = update(1, "account", account, before.version, {"phone": "+33 1 23"},
                      base={"phone": None}, hlc="1700000000000-0000-rep")

    [result] = h.push("rep_n", [mutation])

    assert result.status is Status.CONFLICT
    assert h.record("account", account).data["phone"] == "+33 1 23"
    assert h.change_count("account", account) == logged + 1  # devices learn of the restore
    [conflict] = h.conflicts("account", account)
    assert conflict["mutation"] == mutation.to_wire()
    assert conflict["device_id"] == h.device("rep_n")
    assert conflict["user_id"] == h.w.users["rep_n"].id
    assert conflict["mutation_id"] == 1


def test_a_technicians_update_of_a_work_order_deleted_meanwhile_is_lost_but_recorded(h):
    work_order = h.w.ids["wo_a"]
    before = h.record("work_order", work_order)
    h.write("work_order", work_order, Op.DELETE)
    logged = h.change_count("work_order", work_order)
    mutation = update(1, "work_order", work_order, before.version,
                      {"status": "completed", "resolution": "Descaled"},
                      base={"status": "dispatched", "resolution": None})

    [result] = h.push("tech_a", [mutation])

    assert result.status is Status.CONFLICT
    assert h.record("work_order", work_order).deleted
    assert h.change_count("work_order", work_order) == logged  # nothing new to replicate
    [conflict] = h.conflicts("work_order", work_order)
    assert conflict["policy"] == "delete_wins"
    assert conflict["client_value"] == {"status": "completed", "resolution": "Descaled"}
    assert conflict["mutation"] == mutation.to_wire()


def test_a_device_that_saw_the_deletion_may_restore_the_record_on_purpose(h):
    visit = uid()
    h.write("visit", visit, Op.CREATE,
            {"account_id": h.w.ids["acc_n1"], "rep_id": h.w.users["rep_n"].id})
    tombstone = h.write("visit", visit, Op.DELETE).record

    [result] = h.push("rep_n", [update(1, "visit", visit, tombstone.version,
                                       {"notes": "Rescheduled after all"})])

    assert result.status is Status.APPLIED
    assert not h.record("visit", visit).deleted
    assert h.conflicts("visit", visit) == []


# -- a device deletes what the server updated meanwhile --------------------------------------


@pytest.mark.parametrize("entity", sorted(POLICIES))
def test_a_device_delete_of_a_record_updated_meanwhile_follows_the_declared_rule(h, entity):
    record_id = seed_every_entity(h)[entity]
    name, value = EDITS[entity]
    before = h.record(entity, record_id)
    h.write(entity, record_id, Op.UPDATE, {name: value})
    updated = h.record(entity, record_id)
    logged = h.change_count(entity, record_id)

    [result] = h.push("office", [delete(1, entity, record_id, before.version)])

    assert POLICIES[entity].on_delete_updated is DeleteRule.UPDATE_WINS  # as declared today
    after = h.record(entity, record_id)
    assert result.status is Status.CONFLICT
    assert not after.deleted and after.version == updated.version
    assert after.data == updated.data
    assert h.change_count(entity, record_id) == logged
    [conflict] = h.conflicts(entity, record_id)
    assert (conflict["kind"], conflict["policy"], conflict["result"]) == (
        "delete_updated", "update_wins", "kept")
    assert conflict["server_value"] == updated.data
    assert conflict["client_value"] is None  # the client side is the deletion
    assert conflict["status"] == "resolved"
    assert conflict["mutation"]["op"] == "delete"


def test_a_delete_from_a_device_that_saw_the_latest_version_just_deletes(h):
    contact = h.w.ids["contact_n1"]
    current = h.record("contact", contact)

    [result] = h.push("rep_n", [delete(1, "contact", contact, current.version)])

    assert result.status is Status.APPLIED
    assert h.record("contact", contact).deleted
    assert h.conflicts("contact", contact) == []


def test_deleting_a_record_already_deleted_is_applied_without_a_conflict(h):
    contact = h.w.ids["contact_n1"]
    before = h.record("contact", contact)
    h.write("contact", contact, Op.DELETE)
    logged = h.change_count("contact", contact)

    [result] = h.push("rep_n", [delete(1, "contact", contact, before.version)])

    assert result.status is Status.APPLIED
    assert h.record("contact", contact).version == before.version + 1
    assert h.change_count("contact", contact) == logged
    assert h.conflicts("contact", contact) == []


def test_an_entity_declaring_delete_wins_deletes_and_records_the_losing_update(app):
    # No entity declares on_delete_updated=delete_wins today; the engine must honour it anyway.
    delete_wins = EntityPolicy(on_update_deleted=DeleteRule.UPDATE_WINS,
                               on_delete_updated=DeleteRule.DELETE_WINS)
    registry = Registry(replace(s, policy=delete_wins) if s.name == "contact" else s
                        for s in REGISTRY)
    base = app.extensions["fieldsync.sync"]
    h = Harness(app, engine=SyncEngine(base.tables, registry, secret=base.secret,
                                       clock=base.clock))
    contact = h.w.ids["contact_n1"]
    before = h.record("contact", contact)
    h.write("contact", contact, Op.UPDATE, {"title": "Owner"})
    losing = h.record("contact", contact)

    [result] = h.push("rep_n", [delete(1, "contact", contact, before.version)])

    assert result.status is Status.CONFLICT
    after = h.record("contact", contact)
    assert after.deleted and after.version == losing.version + 1
    [conflict] = h.conflicts("contact", contact)
    assert (conflict["kind"], conflict["policy"], conflict["result"]) == (
        "delete_updated", "delete_wins", "deleted")
    assert conflict["server_value"] == losing.data
    assert conflict["server_value"]["title"] == "Owner"


# -- append-only children of a parent deleted concurrently ---------------------------------


def test_a_time_entry_for_a_work_order_deleted_meanwhile_is_kept_with_an_open_conflict(h):
    work_order, entry = h.w.ids["wo_a"], uid()
    h.write("work_order", work_order, Op.DELETE)
    mutation = create(1, "time_entry", entry, {
        "work_order_id": work_order, "technician_id": h.w.users["tech_a"].id,
        "kind": "labor", "started_at": "2026-03-02T08:00:00Z",
        "ended_at": "2026-03-02T09:30:00Z", "minutes": 90})

    [result] = h.push("tech_a", [mutation])

    assert result.status is Status.CONFLICT
    kept = h.record("time_entry", entry)
    assert not kept.deleted and kept.data["minutes"] == 90
    assert f"tech:{h.w.users['tech_a'].id}" in kept.keys  # still replicates to its author
    [conflict] = h.conflicts("time_entry", entry)
    assert (conflict["kind"], conflict["field"], conflict["policy"]) == (
        "parent_deleted", "work_order_id", "append_only")
    assert (conflict["client_value"], conflict["result"], conflict["status"]) == (
        work_order, "kept", "open")
    assert conflict["mutation"] == mutation.to_wire()


def test_parts_used_on_a_work_order_deleted_meanwhile_are_kept_with_an_open_conflict(h):
    work_order, used = h.w.ids["wo_a"], uid()
    h.write("work_order", work_order, Op.DELETE)

    [result] = h.push("tech_a", [create(1, "part_used", used, {
        "work_order_id": work_order, "part_id": h.w.ids["part1"], "quantity": 2})])

    assert result.status is Status.CONFLICT
    assert h.record("part_used", used).data["quantity"] == 2
    [conflict] = h.conflicts("part_used", used)
    assert (conflict["kind"], conflict["status"]) == ("parent_deleted", "open")


def test_an_order_line_for_an_order_deleted_meanwhile_is_kept_and_priced(h):
    order, line = uid(), uid()
    h.write("order", order, Op.CREATE, {"account_id": h.w.ids["acc_n1"],
                                        "rep_id": h.w.users["rep_n"].id,
                                        "price_list_id": h.w.ids["price_list"]})
    h.write("order", order, Op.DELETE)

    [result] = h.push("rep_n", [create(1, "order_line", line, {
        "order_id": order, "product_id": h.w.ids["product1"], "quantity": 2,
        "unit_price": "1.00"})])

    assert result.status is Status.CONFLICT, result.error
    kept = h.record("order_line", line)
    assert (kept.data["unit_price"], kept.data["line_total"]) == ("24.90", "49.80")
    [conflict] = h.conflicts("order_line", line)
    assert (conflict["kind"], conflict["status"]) == ("parent_deleted", "open")


def test_a_child_that_is_not_append_only_is_refused_under_a_deleted_parent(h):
    account, visit = h.w.ids["acc_n1"], uid()
    h.write("account", account, Op.DELETE)

    [result] = h.push("rep_n", [create(1, "visit", visit, {
        "account_id": account, "rep_id": h.w.users["rep_n"].id})])

    assert result.status is Status.REJECTED
    assert result.error.code == "reference_deleted"
    assert h.conflicts("visit", visit) == []
    [rejection] = h.rejections("rep_n")
    assert rejection["code"] == "reference_deleted"
