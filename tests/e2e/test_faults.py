"""Faults against a real server process: it is killed mid-push and mid-pull, answers are lost
on the way back, and the field app itself is killed between its local writes and their sync.
Afterwards nothing is lost or duplicated: receipts, change-log rows, versions and counters
on the server account for every mutation exactly once, and the replicas converge.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from client_sdk import OfflineError, SyncClient
from server.domain import import_records, make_engine
from sync.database import write_transaction
from sync.protocol import Op
from tests.e2e.conftest import Device, quick_retry
from tests.e2e.live_server import REPO, LiveServer
from tests.e2e.network import ANSWERED, DROPPED, LOST, Network
from tests.e2e.server_state import (
    assert_replica_matches_server,
    assert_same_replica,
    change_count,
    changes_by_device,
    conflicts,
    last_handled,
    live_records_of,
    receipts,
    record,
    rejections,
    writing,
)

pytestmark = pytest.mark.slow

PROCESS_TIMEOUT = 30.0


# -- helpers ---------------------------------------------------------------------------------

def server_write(engine, entity: str, record_id: str, fields: dict) -> None:
    """A back-office change made on the server itself (it enters the change log)."""
    with write_transaction(engine) as conn:
        make_engine("").write(conn, entity, record_id, Op.UPDATE, fields)


def seed_accounts(engine, territory_id: str, count: int) -> None:
    with write_transaction(engine) as conn:
        import_records(conn, "account", [
            {"id": str(uuid.uuid4()), "territory_id": territory_id, "name": f"Account {n:05d}"}
            for n in range(count)])


class Crasher:
    """Crashes the live server from another thread while a request is in flight."""

    def __init__(self, server: LiveServer):
        self.server = server
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._crashed = False

    def after(self, delay: Callable[[], float]) -> Callable[[], None]:
        """A callback for Network.when_sent: crash `delay()` seconds after the request left."""
        def arm() -> None:
            timer = threading.Timer(delay(), self._crash_once)
            self._threads.append(timer)
            timer.start()
        return arm

    def unless_crashed(self) -> None:
        """A callback for Network.when_sent, armed for the request after one given to
        `after`: should that one's answer beat the timer, the crash lands in this one."""
        self._crash_once()

    def _crash_once(self) -> None:
        with self._lock:
            if self._crashed:
                return
            self._crashed = True
        self.server.crash()

    def while_writing(self, engine) -> Callable[[], None]:
        """A callback for Network.when_sent: crash as soon as the server is inside the write
        transaction the request started (or when it has answered, if it was too quick)."""
        def watch() -> None:
            deadline = time.monotonic() + PROCESS_TIMEOUT
            while not writing(engine) and time.monotonic() < deadline:
                time.sleep(0.002)
            self.server.crash()

        def arm() -> None:
            thread = threading.Thread(target=watch)
            self._threads.append(thread)
            thread.start()
        return arm

    def wait(self) -> None:
        for thread in self._threads:
            thread.join(timeout=PROCESS_TIMEOUT)
        assert not self.server.running


def half_the_quickest_answer(network: Network, path: str) -> Callable[[], float]:
    """Half the time the quickest answered request to `path` took: a crash then lands while
    the next one, of the same size, is being worked on. Not the last answer's: the first
    after a restart is slow (a cold worker), and half of it can outlast the rest of a sync,
    so that the crash would miss every request."""
    def delay() -> float:
        return min(e.seconds for e in network.exchanges(path) if e.outcome == ANSWERED) / 2
    return delay


def work_a_long_shift(tech: Device, ids: dict[str, str], uses: int) -> list[str]:
    """Offline: start the work order and use a part `uses` times (each use also takes one
    from the van stock, merged by the server as a counter). Returns the part_used ids."""
    tech.field.start_work_order(ids["wo_a"])
    return [tech.field.use_part(ids["wo_a"], ids["part1"], 1) for _ in range(uses)]


def assert_batches_whole(engine, device: Device, batch: int) -> int:
    """With the server down: what it holds of the device's pushes is whole batches, each
    with its receipts and a change row per mutation (every mutation here changes its
    record). Returns how many mutations it handled."""
    handled = last_handled(engine, device.device_id)
    written = int(device.client.store.meta("next_mutation_id")) - 1
    assert handled in {*range(0, written, batch), written}, "the server kept part of a batch"
    assert receipts(engine, device.device_id) == list(range(1, handled + 1))
    assert sum(changes_by_device(engine, device.device_id).values()) == handled
    return handled


def assert_pushed_once(engine, device: Device, expected_changes: Counter) -> None:
    """Every mutation the device ever made has one receipt, and its pushes logged exactly
    `expected_changes` change rows per record; nothing was rejected."""
    written = int(device.client.store.meta("next_mutation_id")) - 1
    assert device.client.pending() == []
    assert receipts(engine, device.device_id) == list(range(1, written + 1))
    assert changes_by_device(engine, device.device_id) == expected_changes
    assert rejections(engine) == []


def assert_converged(connect, device: Device, engine) -> None:
    assert_replica_matches_server(device.client, engine)
    fresh = connect(device.user.name, device.name + " (new)")
    assert_same_replica(device.client, fresh.client)


# -- the server dies -------------------------------------------------------------------------

USES, PUSH_BATCH = 100, 70


def test_a_server_killed_mid_push_applies_every_mutation_exactly_once(
        connect, live_server, world, server_engine):
    ids = world.ids
    server_write(server_engine, "van_stock", ids["van_a"], {"quantity": 1000})
    van_version = record(server_engine, "van_stock", ids["van_a"])[0]
    tech = connect("tech_a", "tablet", push_batch=PUSH_BATCH)
    used = work_a_long_shift(tech, ids, USES)
    total = len(tech.client.pending())
    assert total == 1 + 2 * USES
    crash, network = Crasher(live_server), tech.network

    # The first batch is answered; the second is cut off in the middle of its transaction.
    network.when_sent("/sync/push", lambda: None)
    network.when_sent("/sync/push", crash.while_writing(server_engine))
    with pytest.raises(OfflineError):
        tech.client.sync()
    crash.wait()
    handled = assert_batches_whole(server_engine, tech, PUSH_BATCH)
    assert handled >= PUSH_BATCH
    assert len(tech.client.pending()) >= total - handled

    # Restarted on the same database and port; killed again the moment the batch is sent.
    live_server.restart()
    network.when_sent("/sync/push", live_server.crash)
    with pytest.raises(OfflineError):
        tech.client.sync()
    assert_batches_whole(server_engine, tech, PUSH_BATCH)

    live_server.restart()
    tech.client.sync()
    assert LOST in [e.outcome for e in network.exchanges("/sync/push")]
    assert_pushed_once(server_engine, tech, Counter(
        {("work_order", ids["wo_a"]): 1, ("van_stock", ids["van_a"]): USES}
        | {("part_used", u): 1 for u in used}))
    version, van = record(server_engine, "van_stock", ids["van_a"])
    assert (version, van["quantity"]) == (van_version + USES, 1000 - USES)
    parts = live_records_of(server_engine, "part_used")
    assert sorted(parts) == sorted(used)
    assert {version for version, _ in parts.values()} == {1}
    assert_converged(connect, tech, server_engine)


ACCOUNTS, PAGE = 800, 150


def pulled_cursors(network: Network) -> list[str | None]:
    """The cursor each pull request carried, in order."""
    return [json.loads(e.body)["cursor"] for e in network.exchanges("/sync/pull")]


def pulled_records(network: Network) -> set[tuple[str, str]]:
    """Every record the answered pull pages brought."""
    return {(c["entity"], c["id"]) for e in network.exchanges("/sync/pull")
            if e.outcome == ANSWERED for c in json.loads(e.answer)["changes"]}


def test_a_server_killed_mid_pull_resumes_from_the_last_page_applied(
        connect, live_server, world, server_engine):
    seed_accounts(server_engine, world.territories["N"], ACCOUNTS)
    rep = connect("rep_n", "laptop", sync=False, pull_limit=PAGE)
    crash, network = Crasher(live_server), rep.network

    # The first download: two pages arrive, the server is killed once the third request has
    # left. Whether it answered that one first is a race (the SDK asks for a page while it
    # applies the one before), so the replica must hold exactly the pages that were answered.
    for _ in range(2):
        network.when_sent("/sync/pull", lambda: None)
    network.when_sent("/sync/pull", live_server.crash)
    with pytest.raises(OfflineError):
        rep.client.sync()
    cursor = rep.client.store.meta("cursor")
    answered = [e for e in network.exchanges("/sync/pull") if e.outcome == ANSWERED]
    assert len(answered) >= 2
    assert cursor == json.loads(answered[-1].answer)["cursor"]
    assert rep.client.store.all_views().keys() == pulled_records(network)  # whole pages only
    held = sorted(i for entity, i in rep.client.store.all_views() if entity == "account")
    assert 0 < len(held) < ACCOUNTS

    # Offline meanwhile, the rep renames two accounts; the office renames one of them too,
    # later (last writer wins), and one the rep has not downloaded yet.
    rep.client.update("account", held[0], {"name": "Renamed by the rep"})
    rep.client.update("account", held[1], {"name": "Renamed by the rep too"})
    live_server.restart()
    server_write(server_engine, "account", held[0], {"name": "Renamed by the office"})
    not_yet = next(i for i in live_records_of(server_engine, "account") if i not in held)
    server_write(server_engine, "account", not_yet, {"name": "Also renamed by the office"})

    # Resumed from the stored cursor; the server dies again halfway through the next page (or,
    # should that page be answered first, as the one after it is asked for: pages remain).
    network.when_sent("/sync/pull", lambda: None)
    network.when_sent("/sync/pull", crash.after(half_the_quickest_answer(network, "/sync/pull")))
    network.when_sent("/sync/pull", crash.unless_crashed)
    with pytest.raises(OfflineError):
        rep.client.sync()
    crash.wait()
    live_server.restart()
    rep.client.sync()

    cursors = pulled_cursors(network)
    assert cursors[0] is None and None not in cursors[1:], "a download started over"
    assert cursor in cursors
    # The rename that lost to the office's later one changed nothing, so it logged nothing.
    assert_pushed_once(server_engine, rep, Counter({("account", held[1]): 1}))
    names = {i: data["name"] for i, (_, data) in live_records_of(
        server_engine, "account", [held[0], held[1], not_yet]).items()}
    assert names == {held[0]: "Renamed by the office", held[1]: "Renamed by the rep too",
                     not_yet: "Also renamed by the office"}
    [conflict] = conflicts(server_engine)
    assert (conflict["record_id"], conflict["policy"], conflict["result"]) == (
        held[0], "lww", "Renamed by the office")
    assert_converged(connect, rep, server_engine)


# -- answers lost on the way back --------------------------------------------------------------

@pytest.mark.parametrize("server_env", [{"ACCESS_TOKEN_TTL_SECONDS": "31"}],
                         ids=["tokens refreshed after a second"])
def test_answers_lost_on_the_way_back_are_replayed_never_reapplied(
        connect, live_server, world, server_engine):
    ids = world.ids
    server_write(server_engine, "van_stock", ids["van_a"], {"quantity": 100})
    tech = connect("tech_a", "tablet", push_batch=10)
    network = tech.network
    used = work_a_long_shift(tech, ids, 12)

    # Every attempt's answer is lost: the sync gives up, though the server applied batch 1.
    network.drop("/sync/push", times=3)
    with pytest.raises(OfflineError):
        tech.client.sync()
    assert last_handled(server_engine, tech.device_id) == 10
    assert len(tech.client.pending()) == 25

    # More work before the next sync, which loses the answers to its token refresh, its
    # first push and its first pull once each: each is retried, the push replayed.
    used.append(tech.field.use_part(ids["wo_a"], ids["part1"], 1))
    time.sleep(1.1)  # the access token is now within the SDK's early-refresh window
    for path in ("/auth/refresh", "/sync/push", "/sync/pull"):
        network.drop(path)
    tech.client.sync()

    outcomes = Counter((e.path.rsplit("/", 1)[-1], e.outcome) for e in network.log)
    assert outcomes[("refresh", DROPPED)] == 1 and outcomes[("refresh", ANSWERED)] >= 1
    assert outcomes[("push", DROPPED)] == 4 and outcomes[("pull", DROPPED)] == 1
    assert_pushed_once(server_engine, tech, Counter(
        {("work_order", ids["wo_a"]): 1, ("van_stock", ids["van_a"]): 13}
        | {("part_used", u): 1 for u in used}))
    assert record(server_engine, "van_stock", ids["van_a"])[1]["quantity"] == 100 - 13
    time.sleep(1.1)  # the refresh chain survived the lost answer: it refreshes again
    tech.client.sync()
    assert_converged(connect, tech, server_engine)


# -- the field app dies ----------------------------------------------------------------------

def run_field_app(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.field_app", *arguments],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)


def kill_after_writes(process: subprocess.Popen, writes: int) -> list[tuple[str, str]]:
    """Read the app's reports of committed writes; SIGKILL it after `writes` of them."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                              daemon=True)
    reader.start()
    committed, deadline = [], time.monotonic() + PROCESS_TIMEOUT
    while len(committed) < writes:
        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        committed.append(tuple(line.split()))
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=PROCESS_TIMEOUT) == -signal.SIGKILL
    reader.join(timeout=PROCESS_TIMEOUT)
    process.stdout.close()
    return committed


def reopen(path, server: LiveServer) -> SyncClient:
    return SyncClient(path, server_url=server.url, transport=Network(), retry=quick_retry())


def assert_outbox_matches_replica(client: SyncClient) -> None:
    """No write without its outbox entry, no entry without its write: a crash between the
    two is impossible (they commit in one local transaction)."""
    pending = client.pending()
    ids = [m.mutation_id for m in pending]
    assert ids == list(range(ids[0], int(client.store.meta("next_mutation_id"))))
    created = {(m.entity, m.record_id) for m in pending if m.op is Op.CREATE}
    local_only = {key for key, data in client.store.all_views().items()
                  if key not in client.store.all_server_states()}
    assert created == local_only


def test_a_field_app_killed_before_or_during_sync_loses_and_duplicates_nothing(
        connect, live_server, world, server_engine):
    ids = world.ids
    server_write(server_engine, "van_stock", ids["van_a"], {"quantity": 1000})
    tech = connect("tech_a", "tablet")
    tech.field.start_work_order(ids["wo_a"])
    tech.client.sync()
    device_id, replica = tech.device_id, tech.replica
    tech.client.close()

    # Killed while writing offline, between a write and any sync of it.
    committed = kill_after_writes(run_field_app("work", str(replica), ids["wo_a"],
                                                ids["part1"]), writes=30)
    client = reopen(replica, live_server)
    assert_outbox_matches_replica(client)
    for entity, record_id in committed:
        assert client.get(entity, record_id) is not None
    outbox = client.pending()
    client.close()

    # Killed again once the server had applied its push, before the app stored the answer.
    app = run_field_app("sync-and-die", str(replica))
    assert app.wait(timeout=PROCESS_TIMEOUT) == -signal.SIGKILL
    app.stdout.close()
    assert last_handled(server_engine, device_id) == outbox[-1].mutation_id

    client = reopen(replica, live_server)
    assert client.pending() == outbox
    client.sync()
    tech.client = client
    expected = Counter((m.entity, m.record_id) for m in outbox)
    expected[("work_order", ids["wo_a"])] += 1  # started before the app was killed
    assert_pushed_once(server_engine, tech, expected)
    taken = sum(m.base["quantity"] - m.fields["quantity"] for m in outbox
                if m.entity == "van_stock")
    uses = sum(1 for m in outbox if m.entity == "part_used")
    # field.use_part writes the use and the stock decrement as two local transactions: the
    # kill may fall between them (the outbox is consistent either way).
    assert uses - 1 <= taken <= uses
    assert record(server_engine, "van_stock", ids["van_a"])[1]["quantity"] == 1000 - taken
    assert change_count(server_engine, "van_stock", ids["van_a"]) == 2 + expected[
        ("van_stock", ids["van_a"])]
    assert_converged(connect, tech, server_engine)
