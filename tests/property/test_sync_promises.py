"""Property test of the sync promises (docs/protocol.md §6, §7, §8) under a flaky network.

Generated, per example, on a fresh database seeded with tests.world (plus a little more):
- six devices running the real SyncClient, each with its own replica file and page size:
  rep_n on a phone and a laptop, rep_s, tech_a, tech_b and a back-office desk;
- a list of steps: a device edits offline (fields of accounts, contacts, visits, work
  orders, checklist items and assets from small value pools, some invalid; van stock
  quantity up or down; creating contacts, visits, accounts, time entries, parts used and
  work orders; deleting contacts and visits; moving accounts between territories and
  reassigning work orders from the desk), a device syncs with maybe one fault injected (a
  push or pull request lost before the server sees it, or its answer lost after the server
  handled it), a device's app restarts from its replica file, or the back office writes
  through the records API or changes a rep's territories.

Checked:
- at every step: a mutation leaves the outbox exactly when its result reached the device;
  every push carries the whole unacknowledged outbox unchanged (so a lost answer is
  re-sent); every pulled change is the record's current state and a `put` only within the
  user's scope; a device holds a record outside its scope only if the record changed since
  the device last completed a sync;
- after every completed sync: the device holds exactly the server's live records in its
  user's scope, at the server's versions, and shows exactly that;
- once writes stop and every device synced until nothing moves: each mutation was handled
  exactly once and the device was told what the server recorded; applied writes carry the
  values sent, conflicts and rejections are stored with the full mutation and kept on the
  device; every version of every record is one some write answered with and is in the log;
  van stock equals its initial quantity plus every accepted delta, each counted once; every
  record's scope keys are those its references give it.
"""

from __future__ import annotations

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
EXAMPLES = {"sqlite": 20, "postgresql": 10}
SESSIONS, SESSION_STEPS = 4, 12
PULL_LIMITS = [3, 10, 1000]


@dataclass(frozen=True)
class Edit:
    device: str
    action: str
    target: int
    choice: int


@dataclass(frozen=True)
class Sync:
    device: str
    fault: Fault | None


@dataclass(frozen=True)
class Restart:
    device: str


@dataclass(frozen=True)
class OfficeWrite:
    action: str
    target: int
    choice: int


Step = Edit | Sync | Restart | OfficeWrite

devices = st.sampled_from(sorted(DEVICES))
targets = st.integers(0, 3)  # few records in play, so edits collide
choices = st.integers(0, 7)
lost = st.sampled_from(["request", "response"])
faults = st.one_of(st.none(), st.builds(Fault, st.just("push"), st.just(0), lost),
                   st.builds(Fault, st.just("pull"), st.integers(0, 3), lost))


def _edits_on(device: str) -> st.SearchStrategy[Edit]:
    actions = sorted(ACTIONS_BY_ROLE[ROLES[DEVICES[device]]])
    return st.builds(Edit, st.just(device), st.sampled_from(actions), targets, choices)


edits = devices.flatmap(_edits_on)
# Counting parts more often: increments must add up exactly whatever the network does.
counts = st.builds(Edit, st.sampled_from(["office.desk", "tech_a.tablet", "tech_b.tablet"]),
                   st.just("count_parts"), targets, choices)
syncs = st.builds(Sync, devices, faults)
restarts = st.builds(Restart, devices)
office_writes = st.builds(OfficeWrite, st.sampled_from([*sorted(OFFICE_ACTIONS),
                                                        "set_territories"]), targets, choices)
steps = st.one_of(edits, edits, edits, counts, syncs, syncs, syncs, office_writes, restarts)
# Hypothesis keeps one list short (about six items); a few lists run back to back make
# longer scripts that still shrink down to a single step.
scripts = st.lists(st.lists(steps, max_size=SESSION_STEPS), min_size=SESSIONS,
                   max_size=SESSIONS).map(lambda sessions: [s for ss in sessions for s in ss])
pull_limits = st.fixed_dictionaries({name: st.sampled_from(PULL_LIMITS) for name in DEVICES})


def run(fleet: Fleet, step: Step) -> None:
    if isinstance(step, OfficeWrite):
        fleet.back_office.act(step.action, step.target, step.choice)
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


@settings(max_examples=EXAMPLES[backend()], deadline=None,
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
