"""Pure three-way merge: every policy of sync/policies.py through merge_fields/resolve_field."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from server.domain.policies import POLICIES
from sync.merge import MergeError, merge_fields, resolve_field
from sync.policies import (
    CLIENT_WINS,
    COUNTER,
    LWW,
    MANUAL,
    SERVER_WINS,
    EntityPolicy,
    FieldPolicy,
    Policy,
    state,
)
from sync.workflows import Workflow, moves

# State orders as the engine sees them: words only, any move allowed.
WORK_ORDER_STATUS = state("new", "scheduled", "dispatched", "on_hold", "in_progress",
                          "completed", "closed", "cancelled")
ORDER_STATUS = state("draft", "submitted", "rejected", "approved", "cancelled", "fulfilled")

EARLY = "1700000000000-0000-server"
LATE = "1700000000500-0000-device"


def merge(current, base, incoming, *, fields=None, default=LWW,
          current_hlc=EARLY, incoming_hlc=LATE):
    policy = EntityPolicy(fields=fields or {}, default=default)
    return merge_fields(current=current, base=base, incoming=incoming, policy=policy,
                        current_hlc=current_hlc, incoming_hlc=incoming_hlc)


def only_conflict(result):
    assert len(result.conflicts) == 1, result.conflicts
    return result.conflicts[0]


# -- fields only one side changed ---------------------------------------------------------


@pytest.mark.parametrize("policy", [LWW, SERVER_WINS, CLIENT_WINS, MANUAL, WORK_ORDER_STATUS])
def test_a_field_only_the_client_changed_is_taken_under_every_policy(policy):
    result = merge({"status": "new"}, {"status": "new"}, {"status": "scheduled"},
                   default=policy, current_hlc=LATE, incoming_hlc=EARLY)
    assert result.values == {"status": "scheduled"}
    assert result.conflicts == ()


@pytest.mark.parametrize("policy", [LWW, SERVER_WINS, CLIENT_WINS, MANUAL, WORK_ORDER_STATUS])
def test_a_field_only_the_server_changed_keeps_the_server_value(policy):
    # The client sends the field unchanged from its base: it did not really change it.
    result = merge({"status": "completed"}, {"status": "new"}, {"status": "new"},
                   default=policy)
    assert result.values == {}
    assert result.conflicts == ()


def test_fields_changed_by_different_sides_merge_cleanly_field_by_field():
    base = {"name": "Café", "phone": "1", "city": "Lyon", "notes": "n"}
    current = {**base, "phone": "2", "notes": "server note"}  # the server changed two fields
    incoming = {"name": "Café Nord", "city": "Lyon", "phone": "1"}  # the client changed name
    result = merge(current, base, incoming, fields={"notes": MANUAL})
    assert result.values == {"name": "Café Nord"}
    assert result.conflicts == ()


def test_a_field_the_client_set_to_the_value_the_server_already_has_is_no_conflict():
    result = merge({"name": "Same"}, {"name": "Old"}, {"name": "Same"}, default=MANUAL)
    assert result.values == {}
    assert result.conflicts == ()


def test_fields_absent_from_the_incoming_mutation_are_left_alone():
    result = merge({"a": 1, "b": 2}, {"a": 0, "b": 0}, {"a": 5})
    assert result.values == {"a": 5}
    assert "b" not in result.values


# -- last writer wins ---------------------------------------------------------------------


def test_lww_takes_the_client_value_when_its_clock_is_later():
    result = merge({"name": "server"}, {"name": "base"}, {"name": "client"},
                   current_hlc=EARLY, incoming_hlc=LATE)
    assert result.values == {"name": "client"}
    conflict = only_conflict(result)
    assert (conflict.policy, conflict.result, conflict.open) == ("lww", "client", False)


def test_lww_keeps_the_server_value_when_its_clock_is_later():
    result = merge({"name": "server"}, {"name": "base"}, {"name": "client"},
                   current_hlc=LATE, incoming_hlc=EARLY)
    assert result.values == {}
    assert only_conflict(result).result == "server"


def test_lww_orders_by_counter_when_wall_times_are_equal():
    same_ms_later = "1700000000000-0001-device"
    result = merge({"name": "server"}, {"name": "base"}, {"name": "client"},
                   current_hlc=EARLY, incoming_hlc=same_ms_later)
    assert result.values == {"name": "client"}


def test_lww_keeps_the_server_value_on_an_identical_timestamp():
    assert resolve_field(LWW, "b", "ours", "theirs", EARLY, EARLY) == ("ours", False)


# -- server wins, client wins, manual ------------------------------------------------------


def test_server_wins_keeps_the_server_value_even_against_a_later_client():
    result = merge({"priority": "high"}, {"priority": "normal"}, {"priority": "low"},
                   fields={"priority": SERVER_WINS}, current_hlc=EARLY, incoming_hlc=LATE)
    assert result.values == {}
    conflict = only_conflict(result)
    assert (conflict.policy, conflict.result, conflict.open) == ("server_wins", "high", False)


def test_client_wins_takes_the_client_value_even_against_a_later_server():
    result = merge({"resolution": "s"}, {"resolution": None}, {"resolution": "c"},
                   fields={"resolution": CLIENT_WINS}, current_hlc=LATE, incoming_hlc=EARLY)
    assert result.values == {"resolution": "c"}
    conflict = only_conflict(result)
    assert (conflict.policy, conflict.result, conflict.open) == ("client_wins", "c", False)


def test_manual_keeps_the_server_value_and_leaves_the_conflict_open():
    result = merge({"notes": "server"}, {"notes": "base"}, {"notes": "client"},
                   fields={"notes": MANUAL}, current_hlc=EARLY, incoming_hlc=LATE)
    assert result.values == {}
    conflict = only_conflict(result)
    assert (conflict.policy, conflict.result, conflict.open) == ("manual", "server", True)


def test_only_manual_leaves_a_conflict_open():
    for kind in Policy:
        if kind is Policy.COUNTER:
            continue
        _, left_open = resolve_field(FieldPolicy(kind), "b", "ours", "theirs", EARLY, LATE)
        assert left_open is (kind is Policy.MANUAL), kind


# -- state precedence ---------------------------------------------------------------------


def test_a_technicians_completed_is_not_undone_by_a_dispatchers_later_scheduled():
    # The dispatcher's write is the later one: plain LWW would undo the technician's work.
    server_side = merge({"status": "scheduled"}, {"status": "dispatched"},
                        {"status": "completed"}, fields={"status": WORK_ORDER_STATUS},
                        current_hlc=LATE, incoming_hlc=EARLY)
    assert server_side.values == {"status": "completed"}
    assert only_conflict(server_side).policy == "state"


def test_state_precedence_holds_in_the_other_direction_too():
    # The technician completed on the server first; a dispatcher's device pushes scheduled.
    result = merge({"status": "completed"}, {"status": "dispatched"}, {"status": "scheduled"},
                   fields={"status": WORK_ORDER_STATUS}, current_hlc=EARLY, incoming_hlc=LATE)
    assert result.values == {}
    assert only_conflict(result).result == "completed"


@pytest.mark.parametrize("other", ["new", "scheduled", "dispatched", "on_hold", "in_progress",
                                   "completed", "closed"])
def test_cancelled_beats_every_other_work_order_state_from_either_side(other):
    as_server = merge({"status": "cancelled"}, {"status": "new"}, {"status": other},
                      fields={"status": WORK_ORDER_STATUS}, current_hlc=EARLY,
                      incoming_hlc=LATE)
    as_client = merge({"status": other}, {"status": "new"}, {"status": "cancelled"},
                      fields={"status": WORK_ORDER_STATUS}, current_hlc=LATE,
                      incoming_hlc=EARLY)
    if other == "new":  # the side that "changed" to new did not change it: clean merge
        assert as_server.conflicts == () and as_client.values == {"status": "cancelled"}
        return
    assert only_conflict(as_server).result == "cancelled"
    assert only_conflict(as_client).result == "cancelled"


def test_a_fulfilled_order_is_not_undone_by_a_concurrent_cancellation():
    result = merge({"status": "fulfilled"}, {"status": "submitted"}, {"status": "cancelled"},
                   fields={"status": ORDER_STATUS}, current_hlc=EARLY, incoming_hlc=LATE)
    assert result.values == {}
    assert result.conflicts[0].result == "fulfilled"


def test_states_of_equal_rank_fall_back_to_last_writer_wins():
    tied = FieldPolicy(Policy.STATE, {"red": 1, "blue": 1})
    assert resolve_field(tied, None, "red", "blue", EARLY, LATE) == ("blue", False)
    assert resolve_field(tied, None, "red", "blue", LATE, EARLY) == ("red", False)


def test_states_missing_from_the_order_fall_back_to_last_writer_wins():
    assert resolve_field(WORK_ORDER_STATUS, None, "odd", "strange", EARLY, LATE)[0] == "strange"
    assert resolve_field(WORK_ORDER_STATUS, None, "odd", "strange", LATE, EARLY)[0] == "odd"


def test_a_known_state_beats_an_unknown_one():
    assert resolve_field(WORK_ORDER_STATUS, None, "new", "bogus", EARLY, LATE)[0] == "new"


# A toy workflow: a ticket is opened, worked on, and done or dropped; only a reopening goes
# back.
TICKET = Workflow("status", states=("open", "working", "done", "dropped"),
                  initial={"clerk": frozenset({"open"})},
                  moves=moves(("open", "working", {"clerk"}), ("working", "done", {"clerk"}),
                              (("open", "working"), "dropped", {"boss"}),
                              ("done", "working", {"boss"})))


def test_a_state_merge_never_picks_a_move_the_workflow_does_not_declare():
    # open -> done skips working: the later state does not win, the server's stays.
    result = merge({"status": "open"}, {"status": "working"}, {"status": "done"},
                   fields={"status": TICKET.precedence()})
    assert result.values == {}
    assert only_conflict(result).result == "open"


def test_a_state_merge_picks_the_later_state_when_the_move_is_declared():
    result = merge({"status": "working"}, {"status": "open"}, {"status": "dropped"},
                   fields={"status": TICKET.precedence()}, current_hlc=LATE,
                   incoming_hlc=EARLY)
    assert result.values == {"status": "dropped"}


@given(ours=st.sampled_from(TICKET.states), theirs=st.sampled_from(TICKET.states),
       base=st.sampled_from(TICKET.states), later=st.booleans())
def test_whatever_a_state_merge_decides_is_the_current_state_or_a_declared_move(
        ours, theirs, base, later):
    # A move the device alone made (the server still holds its base) is its own request:
    # the engine judges it against the mover's role (tests/domain/test_workflows.py).
    assume(base != ours)
    result = merge({"status": ours}, {"status": base}, {"status": theirs},
                   fields={"status": TICKET.precedence()},
                   incoming_hlc=LATE if later else EARLY)
    picked = result.values.get("status", ours)
    assert picked == ours or (ours, picked) in TICKET.moves


def test_a_workflow_refuses_unknown_moves_roles_and_initial_states():
    assert TICKET.refusal("clerk", None, "open") is None
    assert TICKET.refusal("clerk", None, "done") == "a clerk may not create a record as done"
    assert TICKET.refusal("clerk", "open", "working") is None
    assert TICKET.refusal("clerk", "open", "open") is None
    assert "may not move" in TICKET.refusal("clerk", "done", "working")
    assert "never moves" in TICKET.refusal("boss", "open", "done")
    assert TICKET.terminal() == {"dropped"}
    with pytest.raises(ValueError, match="unknown states"):
        Workflow("status", states=("a",), initial={}, moves=moves(("a", "b", {"x"})))


# -- counters ----------------------------------------------------------------------------


def test_counter_deltas_from_the_same_base_add_up():
    # base 10; the server took +3 (13); the client, offline, took -2 (8): 10 + 3 - 2 = 11.
    result = merge({"quantity": 13}, {"quantity": 10}, {"quantity": 8},
                   fields={"quantity": COUNTER})
    assert result.values == {"quantity": 11}
    assert type(result.values["quantity"]) is int
    assert result.conflicts == ()


def test_a_counter_merges_as_an_increment_whatever_the_clocks_say():
    early = merge({"quantity": 13}, {"quantity": 10}, {"quantity": 8},
                  fields={"quantity": COUNTER}, current_hlc=LATE, incoming_hlc=EARLY)
    assert early.values == {"quantity": 11}


def test_a_counter_the_client_did_not_change_leaves_the_server_total():
    result = merge({"quantity": 13}, {"quantity": 10}, {"quantity": 10},
                   fields={"quantity": COUNTER})
    assert result.values == {}


def test_decimal_counters_stay_decimal_strings():
    result = merge({"quantity": "2.50"}, {"quantity": "1.00"}, {"quantity": "1.25"},
                   fields={"quantity": COUNTER})
    assert result.values == {"quantity": "2.75"}


@pytest.mark.parametrize("base", [{}, {"quantity": None}])
def test_a_counter_without_its_base_value_cannot_be_merged(base):
    with pytest.raises(MergeError) as info:
        merge({"quantity": 13}, base, {"quantity": 8}, fields={"quantity": COUNTER})
    assert info.value.field == "quantity"


def test_a_counter_that_is_not_a_number_cannot_be_merged():
    with pytest.raises(MergeError):
        merge({"quantity": 13}, {"quantity": 10}, {"quantity": "many"},
              fields={"quantity": COUNTER})


# -- missing base, conflict contents -----------------------------------------------------


def test_a_field_missing_from_the_base_counts_as_changed_on_both_sides():
    result = merge({"name": "server"}, {}, {"name": "client"}, current_hlc=LATE,
                   incoming_hlc=EARLY)
    conflict = only_conflict(result)
    assert conflict.base is None
    assert conflict.result == "server"


def test_a_field_missing_from_the_base_merges_quietly_when_both_sides_agree():
    result = merge({"name": "same"}, {}, {"name": "same"})
    assert (result.values, result.conflicts) == ({}, ())


def test_a_conflict_carries_base_server_client_result_and_policy():
    result = merge({"title": "S", "x": 1}, {"title": "B", "x": 1}, {"title": "C", "x": 1},
                   current_hlc=EARLY, incoming_hlc=LATE)
    conflict = only_conflict(result)
    assert conflict.to_wire() == {"field": "title", "kind": "field", "policy": "lww",
                                  "base": "B", "server": "S", "client": "C", "result": "C",
                                  "open": False}


def test_each_conflicting_field_is_decided_by_its_own_policy():
    policy = POLICIES["work_order"]
    base = {"status": "dispatched", "priority": "normal", "resolution": None, "title": "t"}
    current = {"status": "in_progress", "priority": "high", "resolution": "server",
               "title": "server title"}
    incoming = {"status": "completed", "priority": "low", "resolution": "client",
                "title": "client title"}
    result = merge_fields(current=current, base=base, incoming=incoming, policy=policy,
                          current_hlc=LATE, incoming_hlc=EARLY)
    assert result.values == {"status": "completed", "resolution": "client"}
    decided = {c.field: (c.policy, c.result) for c in result.conflicts}
    assert decided == {
        "status": ("state", "completed"),
        "priority": ("server_wins", "high"),
        "resolution": ("client_wins", "client"),
        "title": ("lww", "server title"),
    }


# -- properties --------------------------------------------------------------------------

field_names = st.sampled_from(["a", "b", "c", "d", "e"])
values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans())
hlcs = st.builds(lambda ms, c: f"{ms:013d}-{c:04x}-n", st.integers(0, 10**13 - 1),
                 st.integers(0, 0xFFFF))


@given(current=st.fixed_dictionaries({name: values for name in "abcde"}),
       incoming=st.dictionaries(field_names, values),
       policy=st.sampled_from([LWW, SERVER_WINS, CLIENT_WINS, MANUAL, WORK_ORDER_STATUS]),
       current_hlc=hlcs, incoming_hlc=hlcs)
def test_with_an_up_to_date_base_every_incoming_change_is_taken_without_conflict(
        current, incoming, policy, current_hlc, incoming_hlc):
    result = merge_fields(current=current, base=current, incoming=incoming,
                          policy=EntityPolicy(default=policy), current_hlc=current_hlc,
                          incoming_hlc=incoming_hlc)
    assert result.conflicts == ()
    assert {**current, **result.values} == {**current, **incoming}


@given(base=st.integers(-1000, 1000), server_delta=st.integers(-100, 100),
       deltas=st.lists(st.integers(-100, 100), min_size=2, max_size=4), order=st.randoms())
def test_counter_deltas_from_several_devices_give_the_same_total_in_any_order(
        base, server_delta, deltas, order):
    def apply_in(sequence):
        total = base + server_delta
        for delta in sequence:
            merged = merge({"quantity": total}, {"quantity": base},
                           {"quantity": base + delta}, fields={"quantity": COUNTER})
            total = merged.values.get("quantity", total)
        return total

    shuffled = list(deltas)
    order.shuffle(shuffled)
    assert apply_in(deltas) == apply_in(shuffled) == base + server_delta + sum(deltas)
