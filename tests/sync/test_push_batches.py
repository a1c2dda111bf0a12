"""Push: in order with parents first, partial rejection, counters that add up (exactly once:
test_push_exactly_once.py)."""

from __future__ import annotations

import pytest

from sync.errors import InvalidRequest
from sync.protocol import MAX_PUSH_MUTATIONS, Op, Status
from tests.sync.harness import Harness, T, create, delete, uid, update
from tests.sync.tech_work import count, device_row, labor


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


# -- malformed batches --------------------------------------------------------------------


@pytest.mark.parametrize("ids", [[2, 1], [1, 1], [0, 1], [-3], [1, 3, 2]])
def test_a_batch_whose_ids_do_not_increase_is_refused_whole(h, ids):
    van = h.w.ids["van_a"]
    batch = [update(i, "van_stock", van, 1, {"quantity": 10 - n}, base={"quantity": 10})
             for n, i in enumerate(ids, start=1)]
    logged = h.change_count()

    with pytest.raises(InvalidRequest) as info:
        h.push("tech_a", batch)

    assert info.value.code == "invalid_request"
    assert h.record("van_stock", van).version == 1
    assert h.change_count() == logged
    assert count(h, T.receipt) == 0
    assert device_row(h, "tech_a") is None
    # The device can still push a well-formed batch afterwards.
    [result] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 9},
                                        base={"quantity": 10})])
    assert result.status is Status.APPLIED


def test_a_batch_larger_than_the_limit_is_refused_whole(h):
    van = h.w.ids["van_a"]
    batch = [update(i, "van_stock", van, 1, {"quantity": 9}, base={"quantity": 10})
             for i in range(1, MAX_PUSH_MUTATIONS + 2)]
    with pytest.raises(InvalidRequest):
        h.push("tech_a", batch)
    assert h.record("van_stock", van).version == 1


# -- parents and children in one batch ----------------------------------------------------


def test_an_account_a_visit_there_and_an_order_for_it_apply_in_reverse_order(h):
    rep, account, visit, order, line = h.w.users["rep_n"].id, uid(), uid(), uid(), uid()
    batch = [
        create(1, "order_line", line, {"order_id": order, "product_id": h.w.ids["product2"],
                                       "quantity": 1}),
        create(2, "order", order, {"account_id": account, "visit_id": visit, "rep_id": rep,
                                   "price_list_id": h.w.ids["price_list"]}),
        create(3, "visit", visit, {"account_id": account, "rep_id": rep}),
        create(4, "account", account, {"territory_id": h.w.territories["N"],
                                       "name": "Nouveau Café"}),
    ]

    results = h.push("rep_n", batch)

    assert [r.status for r in results] == [Status.APPLIED] * 4, [r.error for r in results]
    assert [r.mutation_id for r in results] == [1, 2, 3, 4]
    assert h.record("order", order).data["visit_id"] == visit
    assert f"territory:{h.w.territories['N']}" in h.record("order_line", line).keys
    assert h.record("order_line", line).data["line_total"] == "129.00"


def test_an_update_queued_before_its_records_create_waits_for_it(h):
    contact = uid()
    results = h.push("rep_n", [
        update(1, "contact", contact, 1, {"title": "Owner"}),
        create(2, "contact", contact, {"account_id": h.w.ids["acc_n1"], "first_name": "Léa",
                                       "last_name": "Roux"}),
    ])
    assert [r.status for r in results] == [Status.APPLIED, Status.APPLIED]
    assert h.record("contact", contact).data["title"] == "Owner"
    assert h.record("contact", contact).version == 2


def test_a_record_created_in_an_earlier_batch_can_be_referenced_later(h):
    account, visit = uid(), uid()
    h.push("rep_n", [create(1, "account", account, {"territory_id": h.w.territories["N"],
                                                    "name": "Chez Paul"})])
    [result] = h.push("rep_n", [create(2, "visit", visit, {
        "account_id": account, "rep_id": h.w.users["rep_n"].id})])
    assert result.status is Status.APPLIED


def test_a_child_whose_parent_create_is_rejected_is_rejected_for_the_missing_reference(h):
    account, visit = uid(), uid()
    results = h.push("rep_n", [
        create(1, "visit", visit, {"account_id": account, "rep_id": h.w.users["rep_n"].id}),
        create(2, "account", account, {"territory_id": h.w.territories["N"]}),  # no name
    ])

    assert [r.status for r in results] == [Status.REJECTED, Status.REJECTED]
    assert results[0].error.code == "missing_reference"
    assert "account_id" in results[0].error.fields
    assert results[1].error.code == "validation_failed"
    assert "name" in results[1].error.fields
    codes = {r["mutation_id"]: r["code"] for r in h.rejections("rep_n")}
    assert codes == {1: "missing_reference", 2: "validation_failed"}
    assert h.rows(h.sync.registry["visit"].table,
                  h.sync.registry["visit"].table.c.id == visit) == []


def test_a_reference_to_a_record_that_never_exists_is_rejected(h):
    [result] = h.push("rep_n", [create(1, "visit", uid(), {
        "account_id": uid(), "rep_id": h.w.users["rep_n"].id})])
    assert (result.status, result.error.code) == (Status.REJECTED, "missing_reference")


# -- a rejected mutation does not sink its batch --------------------------------------------


def test_invalid_and_out_of_scope_mutations_are_rejected_and_the_rest_applies(h):
    ids = h.w.ids
    contact = uid()
    batch = [
        update(1, "account", ids["acc_n1"], 1, {"phone": "+33 4 00"}),
        update(2, "account", ids["acc_n2"], 1, {"email": "not an address"}),
        update(3, "account", ids["acc_s1"], 1, {"name": "Bar Sud, taken over"}),
        create(4, "contact", contact, {"account_id": ids["acc_n2"], "first_name": "Jo",
                                       "last_name": "Nord"}),
    ]

    results = h.push("rep_n", batch)

    assert [r.status for r in results] == [Status.APPLIED, Status.REJECTED, Status.REJECTED,
                                           Status.APPLIED]
    assert [r.error.code for r in results[1:3]] == ["validation_failed", "out_of_scope"]
    assert h.record("account", ids["acc_n1"]).data["phone"] == "+33 4 00"
    assert h.record("account", ids["acc_n2"]).version == 1
    assert h.record("account", ids["acc_s1"]).data["name"] == "Bar Sud"
    assert h.record("contact", contact).version == 1
    stored = sorted(h.rejections("rep_n"), key=lambda r: r["mutation_id"])
    assert [r["mutation"] for r in stored] == [batch[1].to_wire(), batch[2].to_wire()]
    assert [r["code"] for r in stored] == ["validation_failed", "out_of_scope"]
    assert "email" in stored[0]["fields"]
    for row in stored:
        assert row["user_id"] == h.w.users["rep_n"].id
        assert (row["entity"], row["device_id"]) == ("account", h.device("rep_n"))
    assert device_row(h, "rep_n")["last_mutation_id"] == 4


def test_a_technician_cannot_close_another_technicians_work_order(h):
    ids = h.w.ids
    batch = [
        update(1, "work_order", ids["wo_b"], 1, {"status": "closed"}),
        update(2, "work_order", ids["wo_a"], 1, {"status": "in_progress"}),
    ]

    results = h.push("tech_a", batch)

    assert (results[0].status, results[0].error.code) == (Status.REJECTED, "out_of_scope")
    assert results[1].status is Status.APPLIED
    assert h.record("work_order", ids["wo_b"]).data["status"] == "scheduled"
    [stored] = h.rejections("tech_a")
    assert stored["mutation"] == batch[0].to_wire()


def test_a_technician_may_not_reassign_or_reprioritise_their_own_work_order(h):
    [result] = h.push("tech_a", [update(1, "work_order", h.w.ids["wo_a"], 1,
                                        {"priority": "urgent"})])
    assert (result.status, result.error.code) == (Status.REJECTED, "forbidden")
    assert h.record("work_order", h.w.ids["wo_a"]).data["priority"] == "normal"


def test_a_rep_cannot_move_an_account_out_of_their_own_territories(h):
    [result] = h.push("rep_n", [update(1, "account", h.w.ids["acc_n1"], 1,
                                       {"territory_id": h.w.territories["S"]})])
    # Territory S is not even visible to this rep, so the reference itself is refused.
    assert (result.status, result.error.code) == (Status.REJECTED, "missing_reference")
    assert h.record("account", h.w.ids["acc_n1"]).data["territory_id"] == h.w.territories["N"]


def test_a_stale_or_impossible_base_version_is_rejected(h):
    results = h.push("rep_n", [
        update(1, "account", h.w.ids["acc_n1"], 7, {"phone": "1"}),
        delete(2, "contact", h.w.ids["contact_n1"], 0),
    ])
    assert [r.error.code for r in results] == ["invalid_base_version"] * 2


# -- counters ----------------------------------------------------------------------------


def test_two_devices_taking_parts_from_the_same_van_stock_both_count(h):
    van = h.w.ids["van_a"]
    [tablet] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 7},
                                        base={"quantity": 10})], device="tablet")
    [phone] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 8},
                                       base={"quantity": 10})], device="phone")

    assert tablet.status is Status.APPLIED
    assert phone.status is Status.MERGED
    assert phone.conflicts == ()
    assert h.record("van_stock", van).data["quantity"] == 5  # 10 - 3 - 2
    assert h.domain_row("van_stock", van)["quantity"] == 5


def test_a_stale_counter_change_without_its_base_value_is_rejected(h):
    van = h.w.ids["van_a"]
    h.write("van_stock", van, Op.UPDATE, {"quantity": 12})
    [result] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 9})])
    assert (result.status, result.error.code) == (Status.REJECTED, "unmergeable")
    assert h.record("van_stock", van).data["quantity"] == 12


def test_a_counter_change_without_its_base_value_is_rejected_even_at_the_current_version(h):
    # The device meant some increment, and without its base nobody can tell which: taking
    # the value as absolute would apply an earlier rejected use of parts a second time.
    van = h.w.ids["van_a"]
    [result] = h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 9})])
    assert (result.status, result.error.code) == (Status.REJECTED, "unmergeable")
    assert "quantity" in result.error.fields
    assert h.record("van_stock", van).data["quantity"] == 10


def test_an_office_write_sets_a_counter_to_the_value_given(h):
    van = h.w.ids["van_a"]
    h.push("tech_a", [update(1, "van_stock", van, 1, {"quantity": 7}, base={"quantity": 10})])
    result = h.write("van_stock", van, Op.UPDATE, {"quantity": 12})  # a stocktake
    assert result.status is Status.APPLIED
    assert h.record("van_stock", van).data["quantity"] == 12


def test_a_counter_merged_beyond_what_the_column_holds_rejects_only_its_own_mutation(h):
    ids = h.w.ids
    h.write("van_stock", ids["van_a"], Op.UPDATE, {"quantity": 12})  # the office restocks
    batch = [
        update(1, "van_stock", ids["van_a"], 1, {"quantity": 2**31 - 1}, base={"quantity": 10}),
        update(2, "work_order", ids["wo_a"], 1, {"status": "in_progress"}),
    ]

    results = h.push("tech_a", batch)

    assert [r.status for r in results] == [Status.REJECTED, Status.APPLIED]
    assert results[0].error.code == "validation_failed"
    assert "quantity" in results[0].error.fields
    assert h.record("van_stock", ids["van_a"]).data["quantity"] == 12
    assert h.record("work_order", ids["wo_a"]).data["status"] == "in_progress"
    [stored] = h.rejections("tech_a")
    assert stored["mutation"] == batch[0].to_wire()
    assert device_row(h, "tech_a")["last_mutation_id"] == 2


def test_a_constraint_only_the_database_knows_rejects_only_its_own_mutation(h):
    # account_number is unique: validation cannot see it, the bulk write fails, and the batch
    # is redone one mutation at a time.
    ids, territory = h.w.ids, h.w.territories["N"]
    h.write("account", ids["acc_n2"], Op.UPDATE, {"account_number": "K-1"})
    batch = [
        create(1, "account", uid(), {"territory_id": territory, "name": "Twin",
                                     "account_number": "K-1"}),
        update(2, "account", ids["acc_n1"], 1, {"city": "Kiel"}),
    ]

    results = h.push("rep_n", batch)

    assert [r.status for r in results] == [Status.REJECTED, Status.APPLIED]
    assert results[0].error.code == "integrity_error"
    assert h.record("account", ids["acc_n1"]).data["city"] == "Kiel"
    assert [r["code"] for r in h.rejections("rep_n")] == ["integrity_error"]


def test_a_create_of_a_record_that_exists_is_rejected_and_the_rest_of_its_batch_applied(h):
    taken = uid()
    h.push("tech_a", [labor(h, 1, taken, minutes=30)])
    fresh = [uid(), uid()]

    results = h.push("tech_a", [labor(h, 2, fresh[0]), labor(h, 3, taken, minutes=99),
                                labor(h, 4, fresh[1])])

    assert [r.status for r in results] == [Status.APPLIED, Status.REJECTED, Status.APPLIED]
    assert results[1].error.code == "already_exists"
    assert h.record("time_entry", taken).data["minutes"] == 30
    assert h.record("time_entry", taken).version == 1
    assert all(h.record("time_entry", i) is not None for i in fresh)


def test_a_second_create_of_the_same_record_in_one_batch_is_rejected(h):
    twice = uid()

    results = h.push("tech_a", [labor(h, 1, twice, minutes=30), labor(h, 2, twice, minutes=99)])

    assert [r.status for r in results] == [Status.APPLIED, Status.REJECTED]
    assert results[1].error.code == "already_exists"
    assert h.record("time_entry", twice).data["minutes"] == 30


def test_a_time_entry_logged_on_a_work_order_reassigned_meanwhile_is_kept(h):
    entry = uid()
    h.write("work_order", h.w.ids["wo_a"], Op.UPDATE, {"technician_id": h.w.users["tech_b"].id})

    [result] = h.push("tech_a", [labor(h, 1, entry)])

    assert result.status is Status.CONFLICT, result.error
    assert not h.record("time_entry", entry).deleted
    assert [(c.kind, c.open) for c in result.conflicts] == [("parent_out_of_scope", True)]
    assert result.record is None  # the author may no longer see it


def test_a_child_of_a_work_order_the_technician_never_had_is_refused(h):
    [result] = h.push("tech_a", [create(1, "time_entry", uid(), {
        "work_order_id": h.w.ids["wo_b"], "technician_id": h.w.users["tech_a"].id,
        "kind": "labor", "started_at": "2026-03-02T08:00:00Z", "minutes": 30})])
    assert result.status is Status.REJECTED
    assert result.error.code == "missing_reference"
