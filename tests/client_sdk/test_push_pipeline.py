"""The push loop sends the next batch while it stores the results of the one before. It must
still have one push under way at a time, never before the answer before it has arrived, keep
every outbox entry until its result is stored, tell the results in order, and leave no thread
behind: a failure anywhere is made good by the next sync, from the server's receipts."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import httpx
import pytest

from client_sdk import RetryPolicy, SyncClient
from client_sdk.api import Api
from client_sdk.errors import NotLoggedIn, OfflineError, ServerError
from client_sdk.store import LocalStore
from client_sdk.syncer import Syncer, SyncReport
from server.extensions import db
from server.models import SYNC_TABLES
from sync.hlc import Clock
from sync.protocol import Mutation, MutationResult, Op, Status
from tests.client_sdk.conftest import SERVER_URL, no_wait

BATCH, BATCHES = 3, 3
MUTATIONS = list(range(1, BATCH * BATCHES + 1))
PUSH_THREAD = "fieldsync-push"


def batch_of(mutation_id: int) -> int:
    return (mutation_id - 1) // BATCH + 1


def push_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(PUSH_THREAD)]


class Server:
    """A fake Api: applies every mutation, after `delay` seconds, and notes in `journal`
    when each batch's request arrives ("send", k), is written out ("written", k, only when
    `writing` takes time) and its answer leaves ("answer", k). `fail(k, token)` may give an
    exception to raise for batch k instead."""

    def __init__(self, journal: list[tuple[str, int]], delay: float = 0.02):
        self.journal, self.delay = journal, delay
        self.fail: Callable[[int, str], Exception | None] = lambda k, token: None
        self.garbled: set[int] = set()  # batches answered with a body that is not JSON
        self.untraced: set[int] = set()  # batches whose writing out is not told (`sent`)
        self.writing = 0.0  # seconds to write a request's body out
        self.arrived: defaultdict[int, threading.Event] = defaultdict(threading.Event)
        self.hold: Callable[[int], None] = lambda k: None  # called before batch k's answer
        self.threads: list[tuple[int, str]] = []  # (batch, thread name) of each request
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    push_results = staticmethod(Api.push_results)

    def push_answer(self, token: str, wire: list[str], *,
                    sent: Callable[[], None] | None = None) -> bytes:
        ids = [json.loads(m)["mutation_id"] for m in wire]
        k = batch_of(ids[0])
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.threads.append((k, threading.current_thread().name))
        self.journal.append(("send", k))
        self.arrived[k].set()
        if self.writing:
            time.sleep(self.writing)  # a large body on a slow link
            self.journal.append(("written", k))
        if sent is not None and k not in self.untraced:
            sent()  # the body is written out: the answer is awaited
        try:
            time.sleep(self.delay)
            self.hold(k)
            if failure := self.fail(k, token):
                raise failure
            self.journal.append(("answer", k))
            if k in self.garbled:
                return b"<html>proxy error</html>"
            return json.dumps({"results": [
                MutationResult(i, Status.APPLIED, "visit", f"v{i}").to_wire() for i in ids
            ]}).encode()
        finally:
            with self._lock:
                self.in_flight -= 1


class Session:
    """Tokens "t1" and, once refreshed, "t2"; notes which thread asked."""

    def __init__(self):
        self.current, self.asked = "t1", []

    def token(self) -> str:
        self.asked.append(("token", threading.current_thread().name))
        return self.current

    def refresh(self) -> str:
        self.asked.append(("refresh", threading.current_thread().name))
        self.current = "t2"
        return self.current


class NotedLock:
    """The store's lock, noting the name of every thread that takes it."""

    def __init__(self, inner):
        self.inner, self.threads = inner, set()

    def __enter__(self):
        self.threads.add(threading.current_thread().name)
        return self.inner.__enter__()

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)


@pytest.fixture
def store(tmp_path) -> Iterator[LocalStore]:
    """A replica with BATCHES full batches of creates in its outbox; its lock notes who
    takes it (the push thread must not)."""
    replica = LocalStore(tmp_path / "replica.db")
    with replica.transaction() as db_:
        for n in MUTATIONS:
            replica.enqueue(db_, Mutation(n, "visit", f"v{n}", Op.CREATE, fields={"n": n}), None)
        replica.set_meta(db_, next_mutation_id=str(len(MUTATIONS) + 1))
    replica._lock = NotedLock(replica._lock)
    yield replica
    replica.close()


@pytest.fixture
def journal() -> list[tuple[str, int]]:
    return []


@pytest.fixture
def server(journal) -> Server:
    return Server(journal)


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def push(store, server, session, journal, monkeypatch
         ) -> Callable[..., tuple[SyncReport, list[int]]]:
    """push(attempts=1) -> (report, ids told to the listener): one Syncer.push. Storing
    batch k's results notes ("record", k) once batch k+1's request has arrived, or after a
    while: so a loop that sends it ahead shows in the journal, and one that does not, too."""
    record_results = store.record_results

    def recording(db_, results):
        k = batch_of(results[0].mutation_id)
        if k < BATCHES:
            server.arrived[k + 1].wait(timeout=0.5)
        journal.append(("record", k))
        record_results(db_, results)

    monkeypatch.setattr(store, "record_results", recording)
    told: list[int] = []

    def run(attempts: int = 1, sleep: Callable[[float], None] = no_wait):
        syncer = Syncer(store, server, session, Clock("device"),
                        retry=RetryPolicy(attempts=attempts, sleep=sleep), push_batch=BATCH,
                        pull_limit=100)
        report = SyncReport()
        syncer.push(report, lambda result: told.append(result.mutation_id))
        return report, told

    return run


def outbox(store: LocalStore) -> list[int]:
    return [m.mutation_id for m in store.pending()]


def test_the_next_batch_leaves_once_the_one_before_is_answered_and_before_it_is_stored(
        store, server, journal, push, session):
    report, told = push()

    at = {event: i for i, event in enumerate(journal)}
    assert len(at) == len(journal) == 3 * BATCHES
    for k in range(1, BATCHES + 1):
        assert at["send", k] < at["answer", k] < at["record", k]
    for k in range(1, BATCHES):
        assert at["answer", k] < at["send", k + 1], "a batch left before the one before it " \
                                                    "was answered"
        assert at["send", k + 1] < at["record", k], "the next batch waited for the store"
        assert at["record", k] < at["record", k + 1]
    assert server.most_in_flight == 1
    assert told == MUTATIONS
    assert (report.pushed, report.applied) == (len(MUTATIONS), len(MUTATIONS))
    assert outbox(store) == []
    assert store._lock.threads == {threading.current_thread().name}
    assert {name for _, name in session.asked} == {threading.current_thread().name}
    assert [k for k, name in server.threads if name.startswith(PUSH_THREAD)] == [2, 3]
    assert push_threads() == []


@pytest.mark.parametrize(("failure", "backoffs"), [
    (OfflineError("cannot reach the server"), 1),
    (ServerError(503, "unavailable", "try again"), 1),
    (ServerError(403, "forbidden", "no"), 0),
])
def test_a_failed_send_of_the_next_batch_raises_after_the_batch_before_is_stored(
        store, server, journal, push, failure, backoffs):
    server.fail = lambda k, token: failure if k == 2 else None
    slept = []

    with pytest.raises(type(failure)) as raised:
        push(attempts=2, sleep=slept.append)

    assert raised.value is failure
    # Batch 1 is stored while batch 2's first try is under way; a transient failure is tried
    # again (once: two attempts), from the calling thread, and the error raised as before.
    assert journal == [("send", 1), ("answer", 1), ("send", 2), ("record", 1)] + [
        ("send", 2)] * backoffs
    main = threading.current_thread().name
    assert [name for k, name in server.threads if k == 2][1:] == [main] * backoffs
    assert len(slept) == backoffs
    assert outbox(store) == MUTATIONS[BATCH:]
    assert push_threads() == []


def test_an_expired_token_on_the_next_batch_is_refreshed_after_the_batch_before_is_stored(
        store, server, journal, push, session):
    server.fail = lambda k, token: (ServerError(401, "token_expired", "expired")
                                    if token == "t1" and k == 2 else None)
    _, told = push()

    assert told == MUTATIONS and outbox(store) == []
    main = threading.current_thread().name
    assert ("refresh", main) in session.asked
    assert [(k, name == main) for k, name in server.threads] == [
        (1, True), (2, False), (2, True), (3, False)]
    assert journal[:5] == [("send", 1), ("answer", 1), ("send", 2), ("record", 1), ("send", 2)]
    assert store._lock.threads == {main}


def test_a_session_lost_before_the_next_batch_raises_after_the_batch_before_is_stored(
        store, server, journal, push, session):
    def signed_out() -> str:
        if session.asked:
            raise NotLoggedIn("sign in again")
        session.asked.append(("token", threading.current_thread().name))
        return "t1"

    session.token = signed_out
    with pytest.raises(NotLoggedIn):
        push()
    assert journal == [("send", 1), ("answer", 1), ("record", 1)]
    assert outbox(store) == MUTATIONS[BATCH:]


def test_a_failure_storing_a_batch_waits_for_the_next_request_and_keeps_both_in_the_outbox(
        store, server, journal, push, monkeypatch):
    server.delay = 0.2  # batch 2 is still under way when storing batch 1 fails
    record_results = store.record_results

    def failing(db_, results):
        record_results(db_, results)
        raise OSError("disk I/O error")

    monkeypatch.setattr(store, "record_results", failing)
    with pytest.raises(OSError, match="disk I/O"):
        push()

    assert journal == [("send", 1), ("answer", 1), ("send", 2), ("record", 1), ("answer", 2)], \
        "the sync ended with a request still under way"
    assert push_threads() == []
    assert outbox(store) == MUTATIONS
    assert store._lock.threads == {threading.current_thread().name}


def test_the_batch_after_next_is_read_while_the_next_is_under_way(
        store, server, journal, push, monkeypatch):
    outbox_batch, read = store.outbox_batch, defaultdict(threading.Event)

    def reading(limit: int, *, after: int = 0):
        entries = outbox_batch(limit, after=after)
        if entries:
            journal.append(("read", batch_of(entries[0][0])))
            read[batch_of(entries[0][0])].set()
        return entries

    monkeypatch.setattr(store, "outbox_batch", reading)
    # batch k's answer waits (a while at most) for batch k+1 to be read: a loop that reads
    # it only after the answer shows in the journal
    server.hold = lambda k: read[k + 1].wait(timeout=0.5)
    _, told = push()

    at = {event: i for i, event in enumerate(journal)}
    for k in range(2, BATCHES):
        assert at["send", k] < at["read", k + 1] < at["answer", k]
    assert told == MUTATIONS and outbox(store) == []


def test_an_entry_added_while_a_batch_is_under_way_is_pushed_in_the_same_sync(
        store, server, journal, push, monkeypatch):
    record_results = store.record_results
    added = MUTATIONS[-1] + 1

    def recording(db_, results):
        record_results(db_, results)
        if batch_of(results[0].mutation_id) == 2:  # batch 3 is read and under way
            store.enqueue(db_, Mutation(added, "visit", f"v{added}", Op.CREATE,
                                        fields={"n": added}), None)
            store.set_meta(db_, next_mutation_id=str(added + 1))

    monkeypatch.setattr(store, "record_results", recording)
    report, told = push()

    assert told == [*MUTATIONS, added]
    assert ("send", batch_of(added)) in journal
    assert report.pushed == len(MUTATIONS) + 1 and outbox(store) == []


def test_a_batch_is_stored_once_the_next_request_is_written_out(store, server, journal, push):
    # Storing holds the GIL; the thread writing the next request would wait for it between
    # writes. So the store waits until the request is out, then works while the server does.
    server.writing, server.delay = 0.05, 0.2
    _, told = push()
    at = {event: i for i, event in enumerate(journal)}
    for k in range(1, BATCHES):
        assert at["send", k + 1] < at["written", k + 1] < at["record", k] < at["answer", k + 1]
    assert told == MUTATIONS


def test_with_a_transport_that_does_not_tell_the_store_waits_for_the_answer(
        store, server, journal, push):
    server.untraced, server.delay = {2}, 0.2
    _, told = push()
    at = {event: i for i, event in enumerate(journal)}
    assert at["answer", 2] < at["record", 1]
    assert at["send", 3] < at["record", 2] < at["answer", 3]
    assert told == MUTATIONS and outbox(store) == []


def test_a_successful_answer_that_cannot_be_read_keeps_its_batch_in_the_outbox(
        store, server, journal, push):
    # A 2xx answer means the batch was committed, so the next batch is already on its way
    # when the answer turns out unreadable; both stay in the outbox, and the next sync gets
    # their results from the server's receipts.
    server.garbled = {1}
    with pytest.raises(ServerError) as raised:
        push()
    assert raised.value.code == "http_error"
    assert journal == [("send", 1), ("answer", 1), ("send", 2), ("answer", 2)]
    assert outbox(store) == MUTATIONS
    assert push_threads() == []


# -- against the app: the next sync makes good a failure, from the server's receipts --------

class Arrivals(httpx.BaseTransport):
    """The app over WSGI; notes each push request's mutation ids as it arrives, and the
    results answered."""

    def __init__(self, app):
        self.app, self.pushes, self.results = httpx.WSGITransport(app=app), [], []
        self.second = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/sync/push"):
            return self.app.handle_request(request)
        self.pushes.append([m["mutation_id"] for m in json.loads(request.read())["mutations"]])
        if len(self.pushes) == 2:
            self.second.set()
        response = self.app.handle_request(request)
        self.results += json.loads(response.read())["results"]
        return response


def logged(app, records: list[str]) -> list[str]:
    """The records of `records` in the server's change log, once per change."""
    with app.app_context():
        rows = db.session.execute(SYNC_TABLES.change.select().where(
            SYNC_TABLES.change.c.record_id.in_(records))).all()
    return sorted(row.record_id for row in rows)


def test_after_a_failure_storing_a_batch_with_the_next_one_applied_the_next_sync_converges(
        app, world, tmp_path, monkeypatch):
    transport = Arrivals(app)
    rep = SyncClient(tmp_path / "rep.db", server_url=SERVER_URL, transport=transport,
                     retry=RetryPolicy(attempts=1, sleep=no_wait), push_batch=2)
    person = world.user("rep_n")
    rep.login(person.email, person.password, "laptop")
    rep.sync()
    visits = [rep.create("visit", {"account_id": world.ids["acc_n1"], "rep_id": person.id})
              for _ in range(5)]
    record_results = rep.store.record_results

    def crashing(db_, answered):
        transport.second.wait(timeout=5)  # batch 2 is sent: the server applies it
        raise OSError("disk I/O error")

    monkeypatch.setattr(rep.store, "record_results", crashing)
    with pytest.raises(OSError):
        rep.sync()
    assert push_threads() == []
    assert transport.pushes == [[1, 2], [3, 4]]
    assert logged(app, visits) == sorted(visits[:4])  # the server applied both batches...
    assert len(rep.pending()) == 5  # ...and the device stored neither answer

    monkeypatch.setattr(rep.store, "record_results", record_results)
    transport.results.clear()
    report = rep.sync()
    assert transport.pushes[2:] == [[1, 2], [3, 4], [5]]  # replays first, in order
    # The replays are answered from their receipts, as applied the first time (a replay
    # without a receipt would come back with an error and no record); nothing twice.
    assert [(r["mutation_id"], r["status"], r["error"], r["record"]["version"])
            for r in transport.results] == [(n, "applied", None, 1) for n in range(1, 6)]
    assert report.pushed == report.applied == 5 and rep.pending() == []
    assert logged(app, visits) == sorted(visits)
    rep.close()
