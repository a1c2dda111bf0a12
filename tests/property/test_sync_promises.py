"""Property test of the sync promises (docs/protocol.md §6-§10) on a flaky network.

Modelled, per example, on a fresh database seeded with tests.world (plus a little more):
- six devices running the real SyncClient against the app in-process, each with its own
  replica file and pull page size (3, 10 or 1000): rep_n on a phone and a laptop, rep_s,
  tech_a, tech_b and a back-office desk;
- a script of steps, weighted towards syncs and lost answers:
  - a device edits offline: fields of accounts, contacts, visits, orders, work orders,
    checklist items and assets from small value pools (a few invalid on purpose); van stock
    up or down; new contacts, visits, accounts, orders, order lines, time entries, parts used
    and work orders; deletions; from the desk also territory moves and reassignments;
  - a device syncs, maybe with one fault: a push or pull request lost before the server
    saw it, or its answer lost after the server handled it (the device retries later);
  - a device's app restarts from its replica file;
  - the back office writes through the records API (the same edits, deletions of accounts,
    orders and work orders) or an admin changes a rep's territories;
  - the retention job runs as if every change were old: it compacts the log (devices keep
    their cursors) or also truncates it and purges tombstones (lagging devices must reset).
  Some steps aim everyone at the same account and work order, so edits conflict and those
  records move between territories and technicians while devices hold them.

The model (fleet.py) keeps, per device, every mutation it made and every result that
reached it; the back office's accepted writes; every change-log entry the server ever held
(retention notwithstanding); and every state of every record the server answered with or
held between two steps, by version. Checked (checks.py), each against that model:
- at every step:
  - outbox: a mutation leaves it exactly when its result reached the device, unaltered;
  - wire: every push carries the whole unacknowledged outbox, oldest first, as made (so a
    lost answer is re-sent, never re-made); every pulled change is the record's current
    state, a `put` only within the user's scope, an `evict` only outside it;
  - scope between syncs: a device holds a record outside its user's scope only if that
    record changed since the device last completed a sync (skipped while the user's own
    scope differs from then: only a sync can tell, and the next check does);
  - the app shows only records the device holds from the server or is creating;
- after every completed sync (convergence, no missed changes, scope): the device holds
  exactly the server's live records in its user's scope, at the server's versions, and
  the app shows exactly that;
- once writes stop and every device synced until nothing moves:
  - exactly once: every mutation has one receipt and its device was told that result;
  - no lost writes: applied and merged writes carry the values sent; conflicts and
    rejections are stored with the full mutation and kept on the device;
  - history: the log held every version of every record, in order; no writer made more
    versions of a record than it had writes accepted; answers naming one version agree;
    from each version to the next only the fields named by the write that made it (or
    computed by the server) changed, so no write silently undid another;
  - counters: van stock is its initial quantity plus every accepted delta, each once, one
    version per delta;
  - scope keys: every record's keys are those its references give it (children follow
    their parents), recomputed independently of the engine.
Deliberately broken engines were caught within 40 examples: a write clobbering a field it
did not name, a full pull page dropping a change, a move not re-keying children. Not
caught that way: compaction that forgets the old keys of a move (it needs a move, a later
write of the moved record, compaction and a lagging device, in that order; the checks catch
it when that script is given, and tests/sync/test_changelog.py covers it directly).

`--hypothesis-show-statistics` lists what the examples exercised (lost answers, conflict
kinds, rejection codes, evictions, resets, versions compared). Examples per backend are
set so tests/property stays near a minute on an idle 2-core machine; set
FIELDSYNC_PROPERTY_EXAMPLES for a deeper hunt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.databases import backend
from tests.property.actions import ACTIONS_BY_ROLE, OFFICE_ACTIONS, Context
from tests.property.checks import (
    check_after_settling,
    check_caught_up,
    check_every_step,
    settle,
)
from tests.property.faults import Fault
from tests.property.fleet import DEVICES, Fleet, running_fleet

ROLES = {"rep_n": "rep", "rep_s": "rep", "tech_a": "technician", "tech_b": "technician",
         "office": "back_office"}
EXAMPLES = {"sqlite": 40, "postgresql": 20}
# A deeper hunt than CI affords: FIELDSYNC_PROPERTY_EXAMPLES=500 pytest tests/property
EXAMPLES_WANTED = int(os.environ.get("FIELDSYNC_PROPERTY_EXAMPLES", 0)) or EXAMPLES[backend()]
SESSIONS, SESSION_STEPS = 4, 12
PULL_LIMITS = [3, 10, 1000]


@dataclass(frozen=True)
class Edit:
    """`device` makes the change `action` picks (see actions.py) while offline."""

    device: str
    action: str
    target: int
    choice: int


@dataclass(frozen=True)
class Sync:
    """`device` runs one sync; `fault` breaks one of its requests."""

    device: str
    fault: Fault | None


@dataclass(frozen=True)
class Restart:
    """The app on `device` is closed and opened again on its replica file."""

    device: str


@dataclass(frozen=True)
class OfficeWrite:
    """The back office makes the change `action` picks, on the server, at once."""

    action: str
    target: int
    choice: int


@dataclass(frozen=True)
class Retention:
    """The nightly retention job compacts the log; with `truncate` it also drops all history
    and tombstones, so every device that has not pulled everything must reset."""

    truncate: bool


Step = Edit | Sync | Restart | OfficeWrite | Retention

def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Draw from one of the strategies, in proportion to its weight (st.one_of counts a
    strategy given twice only once)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


devices = st.sampled_from(sorted(DEVICES))
targets = st.integers(0, 3)  # few records in play, so edits collide
choices = st.integers(0, 7)
lost = st.sampled_from(["request", "response"])
push_faults = st.builds(Fault, st.just("push"), st.just(0), lost)
pull_faults = st.builds(Fault, st.just("pull"), st.integers(0, 3), lost)
faults = weighted((1, st.none()), (3, push_faults), (1, pull_faults))


def _edits_on(device: str) -> st.SearchStrategy[Edit]:
    actions = sorted(ACTIONS_BY_ROLE[ROLES[DEVICES[device]]])
    return st.builds(Edit, st.just(device), st.sampled_from(actions), targets, choices)


edits = devices.flatmap(_edits_on)
# Counting parts more often: increments must add up exactly whatever the network does.
counts = st.builds(Edit, st.sampled_from(["office.desk", "tech_a.tablet", "tech_b.tablet"]),
                   st.just("count_parts"), targets, choices)
# Everyone at the same record: the first account and the first work order in view.
contended = st.one_of(
    st.builds(Edit, st.sampled_from(["office.desk", "rep_n.laptop", "rep_n.phone"]),
              st.just("edit_account"), st.just(0), choices),
    st.builds(Edit, st.sampled_from(["office.desk", "tech_a.tablet"]),
              st.just("set_work_order_status"), st.just(0), choices),
    st.builds(OfficeWrite, st.sampled_from(["edit_account", "set_work_order_status",
                                            "move_account", "reassign_work_order"]),
              st.just(0), choices),
)
# Records leave and enter scopes: territory moves, reassignments, territory grants.
rescoping = st.one_of(
    st.builds(Edit, st.just("office.desk"),
              st.sampled_from(["move_account", "reassign_work_order"]), targets, choices),
    st.builds(OfficeWrite, st.sampled_from(["move_account", "reassign_work_order",
                                            "set_territories"]), targets, choices),
)
syncs = st.builds(Sync, devices, faults)
restarts = st.builds(Restart, devices)
# Compaction alone more often: devices keep their cursors, so what it folds must be right.
retention = st.builds(Retention, st.sampled_from([False, False, True]))
office_writes = st.builds(OfficeWrite, st.sampled_from([*sorted(OFFICE_ACTIONS),
                                                        "set_territories"]), targets, choices)
steps = weighted((3, edits), (2, contended), (1, counts), (1, rescoping), (4, syncs),
                 (1, office_writes), (1, restarts), (2, retention))
# Hypothesis keeps one list short (about six items); a few lists run back to back make
# longer scripts that still shrink down to a single step.
scripts = st.lists(st.lists(steps, max_size=SESSION_STEPS), min_size=SESSIONS,
                   max_size=SESSIONS).map(lambda sessions: [s for ss in sessions for s in ss])
pull_limits = st.fixed_dictionaries({name: st.sampled_from(PULL_LIMITS) for name in DEVICES})


def run(fleet: Fleet, step: Step) -> None:
    if isinstance(step, OfficeWrite):
        fleet.back_office.act(step.action, step.target, step.choice)
        return
    if isinstance(step, Retention):
        fleet.run_retention(truncate=step.truncate)
        return
    device = fleet.devices[step.device]
    if isinstance(step, Edit):
        ctx = Context(device.user.id, str(device.user.role), device.view, fleet.names)
        change = ACTIONS_BY_ROLE[ctx.role][step.action](ctx, step.target, step.choice)
        if change is not None:
            device.make(change)
    elif isinstance(step, Sync):
        if device.sync(step.fault):
            check_caught_up(fleet, device)
    else:
        device.restart(fleet.app)


@settings(max_examples=EXAMPLES_WANTED, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(limits=pull_limits, script=scripts)
def test_devices_on_a_flaky_network_lose_nothing_apply_nothing_twice_and_converge(
        app, limits, script):
    with running_fleet(app, limits) as fleet:
        for device in fleet.devices.values():
            check_caught_up(fleet, device)
        for step in script:
            run(fleet, step)
            check_every_step(fleet)
        settle(fleet)
        check_after_settling(fleet)
        for seen in sorted(fleet.seen):
            event(seen)
