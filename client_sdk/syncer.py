"""One sync run: push the outbox in batches, then pull until caught up.

Resumable at any point: the outbox entry goes only when its result is stored, and a pulled
page commits together with its cursor, so a crash or a dropped connection repeats at most
the last request, which the protocol makes harmless.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from client_sdk.api import Api
from client_sdk.conflict_status import settle_conflicts
from client_sdk.downloads import PageDownloads
from client_sdk.errors import ErrorCode, FieldsyncError, OfflineError, ServerError
from client_sdk.limits import DEFAULT_MAX_REQUEST_BYTES, ENVELOPE_BYTES, wire_size
from client_sdk.session import Session
from client_sdk.store import LocalStore
from sync.hlc import Clock
from sync.protocol import MutationResult, Status, mutation_too_large

T = TypeVar("T")
Batch = list[tuple[int, str]]  # outbox entries: (mutation_id, wire JSON)


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter for transient failures (offline, 5xx, 429)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** attempt) * self.rng.uniform(0.5, 1.5)


@dataclass
class SyncReport:
    pushed: int = 0
    applied: int = 0
    conflicts: int = 0
    rejected: int = 0
    pulled: int = 0
    pages: int = 0
    reset: bool = False
    conflicts_closed: int = 0  # conflicts shown as open that the back office settled


class Syncer:
    def __init__(self, store: LocalStore, api: Api, session: Session, clock: Clock, *,
                 retry: RetryPolicy, push_batch: int, pull_limit: int,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        self.store, self.api, self.session, self.clock = store, api, session, clock
        self.retry, self.push_batch, self.pull_limit = retry, push_batch, pull_limit
        # The server's limit (a single change over it can never be sent) and the bytes a
        # batch may take, lowered when the server refuses a batch as too large.
        self.max_request_bytes = self.batch_bytes = max_request_bytes

    def run(self, *, on_result: Callable[[MutationResult], None],
            progress: Callable[[dict], None] | None = None,
            finished: Callable[[], Mapping[str, str | None]] | None = None) -> SyncReport:
        """Push, then pull until caught up; `finished()` gives meta values to store with the
        last page, in its transaction (one commit less per sync)."""
        report = SyncReport()
        self.push(report, on_result)
        self.pull(report, progress, finished=finished)
        self.settle_conflicts(report)
        return report

    def settle_conflicts(self, report: SyncReport) -> None:
        """Close the conflicts shown as open that the back office has settled (one request
        per 100 of them; none when nothing is open)."""
        device_id = self.session.device_id
        if device_id is None:
            return
        report.conflicts_closed = settle_conflicts(
            self.store, device_id,
            lambda path: self._call(lambda token: self.api.call("GET", path, token=token)))

    def push(self, report: SyncReport, on_result: Callable[[MutationResult], None]) -> None:
        """Push the outbox in batches, sending each batch as soon as the one before it is
        answered, while that one's results are stored (they are told in order, as stored).

        Never earlier: the server takes a mutation id at or below the last one it handled
        for a replay, so one batch's request is under way at a time. An entry leaves the
        outbox only with its stored result, so after a failure anywhere the next sync sends
        again whatever is not stored, and the server answers those from its receipts.

        A batch the server refuses as too large (413) is sent again in halves; a change
        that is too large even alone is rejected here (`mutation_too_large`), so it never
        blocks the outbox. A request that surely changed nothing on the server (answered
        4xx, docs/protocol.md §2.1, or never connected), with no try of it in doubt, leaves
        its changes as never sent: they may be edited or dropped again.
        """
        self._told, self._report = on_result, report
        self._in_flight = InFlight(self.store)
        for _ in range(64):  # each round halves a batch or rejects a change: bounded
            try:
                return self._push_outbox(report, on_result)
            except BaseException as exc:
                self._in_flight.settle(exc)
                if not isinstance(exc, ServerError) or exc.status != 413 \
                        or self._refused is None:
                    raise
                self._shrink(self._refused)
        raise AssertionError("unreachable")

    def _push_outbox(self, report: SyncReport,
                     on_result: Callable[[MutationResult], None]) -> None:
        self._refused: Batch | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldsync-push") as sender:
            batch = self._batch(0)
            answer = self._send(batch)() if batch else b""
            following = self._after(batch)
            while batch:
                waiting = self._send(following, sender) if following else None
                # Leaving the block on a failure waits for the request under way (its
                # answer is dropped): the thread never outlives the sync.
                self._record(batch, answer, report, on_result)
                # The batch after is read while the server works, so it goes out as soon
                # as this answer is in. Outbox entries are only ever added, with higher ids,
                # or removed with their stored results, so what is read stays as it is.
                after = self._after(following)
                batch, answer, following = following, waiting() if waiting else b"", after

    def _after(self, batch: Batch) -> Batch:
        """The outbox batch after `batch` (none after an empty one)."""
        return self._batch(batch[-1][0]) if batch else []

    def _batch(self, after: int) -> Batch:
        """The outbox entries after mutation id `after` that go in one request: at most
        `push_batch` of them, within `batch_bytes` (at least one). An entry larger alone
        than the server takes is rejected here and the next one read instead."""
        for _ in range(self.push_batch + 1):
            with self.store.transaction():  # read and marked in flight at once
                entries = self.store.outbox_batch(self.push_batch, after=after)
                if not entries or wire_size(entries[0][1]) + ENVELOPE_BYTES \
                        <= self.max_request_bytes:
                    return self._in_flight.reserve(
                        _within(entries, self.batch_bytes - ENVELOPE_BYTES))
            self._reject_unsendable(entries[0])
        return []

    def _reject_unsendable(self, entry: tuple[int, str]) -> None:
        """Reject an outbox entry that no request can carry, as the server would reject a
        mutation: kept with its error among the rejected changes, its record's view
        re-derived without it, told to the listeners."""
        mutation_id, wire = entry
        change = json.loads(wire)
        result = MutationResult(mutation_id, Status.REJECTED, change["entity"], change["id"],
                                error=mutation_too_large(wire_size(wire) + ENVELOPE_BYTES,
                                                         self.max_request_bytes))
        with self.store.transaction() as db:
            self.store.record_results(db, [result])
        self._report.rejected += 1
        self._told(result)

    def _shrink(self, refused: Batch) -> None:
        """The server refused `refused` as too large (it applied nothing of it): send such
        batches in halves; one change alone too large for it is rejected."""
        if len(refused) == 1:
            self._reject_unsendable(refused[0])
            return
        size = sum(wire_size(wire) for _, wire in refused[:len(refused) // 2])
        self.batch_bytes = min(self.batch_bytes, size + ENVELOPE_BYTES)

    def _send(self, batch: Batch, sender: ThreadPoolExecutor | None = None
              ) -> Callable[[], bytes]:
        """Make `batch` durable, start sending it in `sender`'s thread and return the wait
        for its successful answer (with retries and token refresh, on the waiting thread).
        The answer is decoded when its results are stored, once the next batch is sent: a
        successful answer means the batch is committed, which is all the next one waits
        for. Without a sender, or a token, it is sent when waited for: the thread must not
        use the store, so the token is read here, and a failure to get one is left to the
        wait to raise."""
        self._in_flight.started(batch)
        self.store.make_outbox_durable(batch[-1][0])
        wire = [mutation for _, mutation in batch]
        written = threading.Event()

        def request(token: str) -> bytes:
            try:
                return self.api.push_answer(token, wire, sent=written.set)
            except ServerError as exc:
                if exc.status == 413:
                    self._refused = batch  # read by push, on this thread or after join
                raise
            finally:
                written.set()

        token = self._token_now() if sender else None
        if token is None:
            return lambda: self._call(request)
        sent = sender.submit(request, token)
        # Storing the batch before is Python work that holds the GIL; the thread writing
        # this request would get it back only every switch interval (5 ms) between its
        # writes. So the store waits until the request is written out (or over).
        written.wait()
        return lambda: self._call(request, first=sent.result)

    def _record(self, batch: Batch, answer: bytes, report: SyncReport,
                on_result: Callable[[MutationResult], None]) -> None:
        """Store the results of a batch's answer in one transaction, then count and tell them
        in order."""
        by_id = {r.mutation_id: r for r in self.api.push_results(answer)}
        answered = [by_id[mutation_id] for mutation_id, _ in batch]
        with self.store.transaction() as db:
            self.store.record_results(db, answered)
        self._observe(max((r.record.hlc for r in answered if r.record), default=None))
        for result in answered:
            report.pushed += 1
            report.conflicts += result.status is Status.CONFLICT
            report.rejected += result.status is Status.REJECTED
            report.applied += result.status in (Status.APPLIED, Status.MERGED)
            on_result(result)

    def pull(self, report: SyncReport, progress: Callable[[dict], None] | None, *,
             finished: Callable[[], Mapping[str, str | None]] | None = None) -> None:
        """Pull pages until caught up, downloading the next pages while the last one is
        applied. Each page still commits with its own cursor, in order, so stopping at any
        point leaves the replica as the sequential loop would."""
        with PageDownloads(self._fetch) as downloads:
            page = self._page(lambda: self._fetch(self.store.meta("cursor")), report)
            downloading = False
            while True:
                if page["more"]:
                    downloads.token = self._token_now()  # read here: see _token_now
                    if not downloading:
                        downloads.start(page["cursor"])
                self._apply_page(page, report, None if page["more"] else finished)
                if progress:
                    progress({"phase": page["phase"], **page["progress"],
                              "received": report.pulled})
                if not page["more"]:
                    return
                page, downloading = self._downloaded(downloads, report)

    def _downloaded(self, downloads: PageDownloads, report: SyncReport
                    ) -> tuple[dict[str, Any], bool]:
        """The next downloaded page, and whether the downloads go on after it: not after the
        last page, nor after a reset (the page then comes from a download of its own)."""
        reset = report.reset
        page = self._page(downloads.next, report)
        return page, page["more"] and report.reset == reset

    def _fetch(self, cursor: str | None, token: str | None = None) -> dict[str, Any]:
        return self._call(lambda t, c=cursor: self.api.pull(t, c, self.pull_limit), token)

    def _token_now(self) -> str | None:
        """A token for a request sent from a thread, read here because the thread must not
        wait for the store while a page or a pushed batch's results are stored. None: the
        download thread asks (and fails) itself, after this page is stored; a push batch is
        then sent from this thread, after the results before it are stored."""
        try:
            return self.session.token()
        except FieldsyncError:
            return None

    def _page(self, fetch: Callable[[], dict[str, Any]], report: SyncReport) -> dict[str, Any]:
        """`fetch()`, or when the cursor has expired, reset and download from scratch."""
        try:
            return fetch()
        except ServerError as exc:
            if exc.code != ErrorCode.RESET_REQUIRED or report.reset:
                raise
        self._reset(report)
        return self._fetch(None)

    def _apply_page(self, page: dict[str, Any], report: SyncReport,
                    finished: Callable[[], Mapping[str, str | None]] | None = None) -> None:
        changes = page["changes"]
        with self.store.transaction() as db:
            self.store.apply_changes(db, changes)
            self.store.set_meta(db, cursor=page["cursor"], **(finished() if finished else {}))
        report.pulled += len(changes)
        report.pages += 1
        self._observe(max((c.get("hlc") or "" for c in changes), default=None))

    def _reset(self, report: SyncReport) -> None:
        """The cursor is older than the server's history: download the scope again, keeping
        the outbox and the rejected changes."""
        report.reset = True
        with self.store.transaction() as db:
            self.store.forget_server_state(db)
            self.store.set_meta(db, cursor=None)

    def _observe(self, hlc: str | None) -> None:
        if hlc:
            self.clock.observe(hlc)

    def _call(self, request: Callable[[str], T], token: str | None = None, *,
              first: Callable[[], T] | None = None) -> T:
        """Run `request(token)` with token refresh and backoff on transient failures;
        `token`, when given, is tried first; `first`, when given, is the first try, already
        under way in another thread (it gives that try's answer, or raises its failure)."""
        doubt = False  # whether a failed try may have reached the server
        for attempt in range(self.retry.attempts):
            try:
                if attempt == 0:
                    return self._authorised(request, token, first)
                return self._authorised(request)
            except OfflineError as exc:
                doubt = _noted(exc, doubt or not exc.unsent)
                if attempt == self.retry.attempts - 1:
                    raise
            except ServerError as exc:
                doubt = _noted(exc, doubt or exc.status >= 500 or exc.status == 408)
                if not exc.transient or attempt == self.retry.attempts - 1:
                    raise
            self.retry.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")

    def _authorised(self, request: Callable[[str], T], token: str | None = None,
                    first: Callable[[], T] | None = None) -> T:
        try:
            return first() if first else request(token or self.session.token())
        except ServerError as exc:
            if exc.status != 401 or exc.code not in (ErrorCode.TOKEN_EXPIRED,
                                                     ErrorCode.INVALID_TOKEN,
                                                     ErrorCode.SESSION_REVOKED):
                raise
        return request(self.session.refresh())


class InFlight:
    """Which outbox entries may have reached the server, kept in the replica (`sent_through`)
    so that no change is edited or dropped from the moment a push reads it until its result
    is stored, or its request surely changed nothing (docs/protocol.md §6.6)."""

    def __init__(self, store: LocalStore):
        self.store = store
        self.doubt = store.sent_through()  # the highest id a started request may have had
        self._before = self.doubt  # `doubt` before the request under way

    def reserve(self, batch: Batch) -> Batch:
        """Mark `batch` in flight; called in the transaction that read it, so that no edit
        slips in between: what the push read is what it sends."""
        if batch:
            self.store.mark_sent(max(self.store.sent_through(), batch[-1][0]))
        return batch

    def started(self, batch: Batch) -> None:
        self._before, self.doubt = self.doubt, max(self.doubt, batch[-1][0])

    def settle(self, failure: BaseException) -> None:
        """After a failed push: only changes a started request may have applied stay in
        flight; those read but not sent, or sent in a request refused whole, are free."""
        if getattr(failure, "in_doubt", True) is False:
            self.doubt = self._before
        self.store.mark_sent(self.doubt)


def _noted(exc: FieldsyncError, doubt: bool) -> bool:
    """Note on `exc` whether the request it ended may have reached the server (a try that
    failed before may have, too): an answered 4xx or a connection never made did not
    (push then counts the request's changes as never sent)."""
    exc.in_doubt = doubt  # type: ignore[attr-defined]
    return doubt


def _within(entries: Batch, budget: int) -> Batch:
    """The first of `entries` whose wire JSON fits in `budget` bytes, at least one."""
    for count, (_, wire) in enumerate(entries):
        budget -= wire_size(wire)
        if budget < 0:
            return entries[:max(count, 1)]
    return entries
