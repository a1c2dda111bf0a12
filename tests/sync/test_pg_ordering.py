"""Ordering safety on PostgreSQL: a pull never moves its cursor past a change not yet visible.

Writers push concurrently and linger between their change-log append and their commit, which
widens the window in which a change numbered earlier could still be uncommitted while a later
one is visible. Pullers with the back office's scope and with a rep's scope pull all the
while. Afterwards every page is checked against the log: each in-scope change above the
cursor a page started from and at or below the cursor it handed back must have reached that
puller, at that version or a later one; and each replica must equal what the server holds in
its scope.

The checks are shown to bite: with the engine's append lock taken out, concurrent appends
collide on their numbers; with a log numbered by the database sequence and no lock (what the
lock exists to avoid), pulls skip changes that commit late, and the checks name them.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from server.domain import actor_for, make_engine, user_keys
from server.models import SYNC_TABLES
from sync import changelog
from sync.cursor import decode
from sync.database import write_transaction
from sync.engine import SyncEngine
from sync.entities import ALL, Actor
from sync.protocol import Mutation, Op, Status
from tests.databases import backend
from tests.world import World, build_world

pytestmark = pytest.mark.skipif(
    backend() != "postgresql",
    reason="commit order can differ from sequence order only on PostgreSQL "
           "(SQLite serialises writers); run with FIELDSYNC_TEST_DB=postgresql",
)

WRITE_SECONDS = 3.0
MAX_LINGER_SECONDS = 0.03  # between the log append and the commit
PULL_LIMIT = 25


class Uncommitted:
    """How many pushes have appended to the log and not committed yet: the window a pull
    must not move its cursor across."""

    def __init__(self):
        self._count, self._guard = 0, threading.Lock()

    def add(self, delta: int) -> None:
        with self._guard:
            self._count += delta

    def __bool__(self) -> bool:
        return self._count > 0


# -- writers ---------------------------------------------------------------------------

# The constraints a push breaks when its log seq was taken by another (no lock).
SEQ_TAKEN = frozenset({"pk_sync_change", "pk_sync_change_key"})


@dataclass
class Writer:
    """One device pushing small batches: new accounts and updates of the ones it made."""

    db: sa.Engine
    sync: SyncEngine
    actor: Actor
    territories: list[str]
    rng: random.Random
    uncommitted: Uncommitted
    versions: dict[str, int] = field(default_factory=dict)
    next_mutation_id: int = 1
    collisions: int = 0  # pushes refused because their log seq was taken (SEQ_TAKEN)

    def run(self, until: float) -> int:
        pushes = 0
        while time.monotonic() < until:
            self.push_batch()
            pushes += 1
        return pushes

    def push_batch(self) -> None:
        updates = self.rng.sample(sorted(self.versions), min(len(self.versions),
                                                             self.rng.randint(0, 2)))
        mutations = [self._update(record_id) for record_id in updates]
        mutations += [self._create() for _ in range(self.rng.randint(1, 2))]
        try:
            with write_transaction(self.db) as conn:
                results = self.sync.push(conn, self.actor, mutations)
        except IntegrityError as exc:
            # the change or its keys, whichever insert the database checked first
            if getattr(exc.orig.diag, "constraint_name", None) not in SEQ_TAKEN:
                raise
            self.collisions += 1
            return
        self.uncommitted.add(-1)  # counted up by the append
        for result in results:
            assert result.status is Status.APPLIED, result
            self.versions[result.record_id] = result.record.version

    def _create(self) -> Mutation:
        fields = {"territory_id": self.rng.choice(self.territories), "name": "New account"}
        return self._mutation(str(uuid.uuid4()), Op.CREATE, None, fields)

    def _update(self, record_id: str) -> Mutation:
        fields = {"notes": f"note {self.rng.random():.6f}"}
        return self._mutation(record_id, Op.UPDATE, self.versions[record_id], fields)

    def _mutation(self, record_id, op, base_version, fields) -> Mutation:
        mutation = Mutation(self.next_mutation_id, "account", record_id, op, base_version,
                            fields)
        self.next_mutation_id += 1
        return mutation


# -- pullers ---------------------------------------------------------------------------

@dataclass
class Page:
    """What one pull delivered, and the part of the log it moved the cursor over."""

    after: int
    upto: int
    delivered: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class Puller:
    """A device that keeps pulling into a replica, remembering every page it got."""

    name: str
    db: sa.Engine
    sync: SyncEngine
    keys: frozenset[str]
    rng: random.Random
    uncommitted: Uncommitted
    raced: int = 0  # pulls started while some appended change was not committed yet
    token: str | None = None
    replica: dict[tuple[str, str], int] = field(default_factory=dict)
    snapshot: Page | None = None
    pages: list[Page] = field(default_factory=list)

    def run(self, writers_done: threading.Event) -> int:
        pulls = 0
        while not writers_done.is_set():
            self.raced += bool(self.uncommitted)
            self.pull()
            pulls += 1
            time.sleep(self.rng.uniform(0, 0.002))
        while self.pull():  # every write has committed: catch up
            pulls += 1
        return pulls

    def pull(self) -> bool:
        """Pull one page; returns whether more remain."""
        with self.db.connect() as conn, conn.begin():
            page = self.sync.pull(conn, self.keys, self.token, limit=PULL_LIMIT)
        after = self._seq(self.token)
        self.token = page.cursor
        delivered = self._apply(page.change_dicts())
        if page.phase == "snapshot":
            # Snapshot pages all hold the cursor at the head read by the first one; together
            # they stand for everything up to it.
            self.snapshot = self.snapshot or Page(0, self._seq(page.cursor))
            self.snapshot.delivered.update(delivered)
        else:
            self.pages.append(Page(after, self._seq(page.cursor), delivered))
        return page.more

    def _apply(self, changes: list[dict]) -> dict[tuple[str, str], int]:
        delivered = {}
        for change in changes:
            key = (change["entity"], change["id"])
            delivered[key] = max(delivered.get(key, 0), change["version"])
            if change["op"] == "put":
                self.replica[key] = max(self.replica.get(key, 0), change["version"])
            else:
                self.replica.pop(key, None)
        return delivered

    def _seq(self, token: str | None) -> int:
        return decode(token, self.sync.secret).seq if token else 0


# -- the checks ------------------------------------------------------------------------

def visible(scope_text: str, keys: frozenset[str]) -> bool:
    return ALL in keys or not keys.isdisjoint(scope_text.split())


def in_scope_log(conn: sa.Connection, keys: frozenset[str]) -> list:
    c = SYNC_TABLES.change
    rows = conn.execute(sa.select(c.c.seq, c.c.entity, c.c.record_id, c.c.version,
                                  c.c.scope_keys).order_by(c.c.seq))
    return [row for row in rows if visible(row.scope_keys, keys)]


def skipped_changes(log: list, puller: Puller) -> list[str]:
    """In-scope changes a page moved the cursor over without delivering them."""
    seqs = [row.seq for row in log]
    skipped = []
    for page in [puller.snapshot, *puller.pages]:
        start, stop = bisect.bisect_right(seqs, page.after), bisect.bisect_right(seqs, page.upto)
        for row in log[start:stop]:
            if page.delivered.get((row.entity, row.record_id), 0) < row.version:
                skipped.append(f"{puller.name}: seq {row.seq} ({row.entity} {row.record_id} "
                               f"v{row.version}) skipped by the page {page.after}->{page.upto}")
    return skipped


def replica_differences(conn: sa.Connection, puller: Puller) -> list[str]:
    """Where the puller's replica differs from the server's records in its scope."""
    r = SYNC_TABLES.record
    rows = conn.execute(sa.select(r.c.entity, r.c.record_id, r.c.version, r.c.scope,
                                  r.c.deleted))
    expected = {(row.entity, row.record_id): row.version for row in rows
                if not row.deleted and visible(row.scope, puller.keys)}
    return [f"{puller.name}: {key} server v{expected.get(key)}, replica "
            f"v{puller.replica.get(key)}"
            for key in sorted(expected.keys() | puller.replica.keys())
            if expected.get(key) != puller.replica.get(key)]


def cursor_gaps(log: list, puller: Puller) -> list[str]:
    """Pages must follow one another from the snapshot to the last change in scope."""
    gaps, at = [], puller.snapshot.upto
    for page in puller.pages:
        if page.after != at:
            gaps.append(f"{puller.name}: a page started at {page.after}, not at {at}")
        at = page.upto
    last = log[-1].seq if log else 0
    if at < last:
        gaps.append(f"{puller.name}: caught up at {at}, its last change is at {last}")
    return gaps


# -- how the log is appended to -------------------------------------------------------

ENGINE_APPEND = changelog.append


def append_without_lock(conn, tables, entries) -> list[int]:
    """The engine's append with its advisory lock taken out."""
    return changelog._append_numbered(conn, tables, entries)


def append_numbered_by_sequence(conn, tables, entries) -> list[int]:
    """The log the ordering promise guards against: numbers come from the database sequence
    as rows are inserted, without a lock, so a number taken earlier can commit later."""
    change = tables.change
    rows = [{"entity": e.entity, "record_id": e.record_id, "version": e.version,
             "deleted": e.deleted, "scope_keys": " ".join(sorted(e.keys)),
             "device_id": e.device_id, "created_at": e.created_at} for e in entries]
    inserted = conn.execute(
        change.insert().returning(change.c.seq, sort_by_parameter_order=True), rows)
    seqs = list(inserted.scalars())
    keys = [{"key": k, "seq": seq} for seq, e in zip(seqs, entries, strict=True) for k in e.keys]
    if keys:
        conn.execute(tables.change_key.insert(), keys)
    return seqs


def start_sequence_after_head(db: sa.Engine) -> None:
    """Let the log's own sequence continue from the numbers the engine's append took."""
    with db.begin() as conn:
        conn.execute(sa.select(sa.func.setval(
            sa.func.pg_get_serial_sequence("sync_change", "seq"),
            changelog.head(conn, SYNC_TABLES))))


def linger_after_append(monkeypatch: pytest.MonkeyPatch, append, uncommitted: Uncommitted
                        ) -> None:
    """Append with `append`, then hold the transaction open a little before its commit."""

    def append_then_linger(conn, tables, entries):
        seqs = append(conn, tables, entries)
        uncommitted.add(1)
        time.sleep(random.uniform(0, MAX_LINGER_SECONDS))
        return seqs

    monkeypatch.setattr(changelog, "append", append_then_linger)


# -- the scenario ----------------------------------------------------------------------

@dataclass
class Outcome:
    pullers: list[Puller]
    pushes: int
    collisions: int
    problems: list[str]


def run_scenario(db: sa.Engine, world: World, *, append=ENGINE_APPEND,
                 seconds: float = WRITE_SECONDS, seed: int) -> Outcome:
    sync = make_engine("ordering-test")
    rng, uncommitted = random.Random(seed), Uncommitted()
    writers = make_writers(db, sync, world, rng, uncommitted)
    pullers = make_pullers(db, sync, world, rng, uncommitted)
    writers_done = threading.Event()
    with (pytest.MonkeyPatch.context() as patch,
          ThreadPoolExecutor(len(writers) + len(pullers)) as pool):
        linger_after_append(patch, append, uncommitted)
        pulling = [pool.submit(p.run, writers_done) for p in pullers]
        until = time.monotonic() + seconds
        try:
            pushes = sum(f.result() for f in [pool.submit(w.run, until) for w in writers])
        finally:
            writers_done.set()
        for f in pulling:
            f.result()
    collisions = sum(w.collisions for w in writers)
    return Outcome(pullers, pushes, collisions, check(db, pullers))


def make_writers(db, sync: SyncEngine, world: World, rng: random.Random,
                 uncommitted: Uncommitted) -> list[Writer]:
    north, south = world.territories["N"], world.territories["S"]
    who = [("rep_n", [north]), ("rep_n", [north]), ("office", [north, south]),
           ("office", [north, south])]
    with db.connect() as conn:
        actors = [actor_for(conn, world.user(name).id, world.user(name).role,
                            str(uuid.uuid4()))
                  for name, _ in who]
    return [Writer(db, sync, actor, territories, random.Random(rng.random()), uncommitted)
            for actor, (_, territories) in zip(actors, who, strict=True)]


def make_pullers(db, sync: SyncEngine, world: World, rng: random.Random,
                 uncommitted: Uncommitted) -> list[Puller]:
    rep = world.user("rep_n")
    with db.connect() as conn:
        rep_keys = user_keys(conn, rep.id, rep.role)
    scopes = [("office-1", frozenset({ALL})), ("office-2", frozenset({ALL})),
              ("rep-1", rep_keys), ("rep-2", rep_keys)]
    return [Puller(name, db, sync, keys, random.Random(rng.random()), uncommitted)
            for name, keys in scopes]


def check(db: sa.Engine, pullers: list[Puller]) -> list[str]:
    problems = []
    with db.connect() as conn:
        for puller in pullers:
            log = in_scope_log(conn, puller.keys)
            problems += skipped_changes(log, puller) + cursor_gaps(log, puller)
            problems += replica_differences(conn, puller)
    return problems


# -- the tests -------------------------------------------------------------------------

def test_concurrent_pullers_never_skip_a_change_that_commits_late(app, engine):
    outcome = run_scenario(engine, build_world(app), seed=1)
    raced = [p.raced for p in outcome.pullers]
    assert min(raced) >= 3, f"too few pulls raced a late commit: {raced}, {outcome.pushes} pushes"
    assert outcome.collisions == 0
    assert outcome.problems == []


def test_taking_the_append_lock_out_is_caught(app, engine):
    outcome = run_scenario(engine, build_world(app), append=append_without_lock,
                           seconds=WRITE_SECONDS / 2, seed=2)
    # The engine numbers changes from the head of the log under the lock: without it,
    # concurrent appends take the same numbers (with numbers from a sequence they would
    # skip instead, as below).
    skipped = [problem for problem in outcome.problems if "skipped by the page" in problem]
    assert outcome.collisions or skipped, "taking the lock out went unnoticed"


def test_a_log_numbered_by_a_sequence_without_a_lock_is_caught_skipping_late_commits(
        app, engine):
    world = build_world(app)
    start_sequence_after_head(engine)
    # A run of a few seconds caught 3 to 100 skipped changes on a 2-core machine under a load
    # of 7 to 9; a second or third run only makes a miss (a false alarm here) rarer still.
    for seed in (3, 4, 5):
        outcome = run_scenario(engine, world, append=append_numbered_by_sequence, seed=seed)
        skipped = [problem for problem in outcome.problems if "skipped by the page" in problem]
        if skipped:
            break
    assert skipped, "the checks did not notice the race they exist to catch"


def test_the_checks_name_a_change_a_page_moved_past():
    log = [SimpleNamespace(seq=seq, entity="account", record_id=f"a{seq}", version=1)
           for seq in (1, 2, 3)]
    puller = Puller("device", None, None, frozenset({ALL}), random.Random(0), Uncommitted())
    puller.snapshot = Page(0, 1, {("account", "a1"): 1})
    puller.pages = [Page(1, 3, {("account", "a3"): 1})]
    assert skipped_changes(log, puller) == [
        "device: seq 2 (account a2 v1) skipped by the page 1->3"]
    assert cursor_gaps(log, puller) == []
    puller.pages.append(Page(4, 4))
    assert cursor_gaps(log, puller) == ["device: a page started at 4, not at 3"]
