"""One sync run: push the outbox in batches, then pull until caught up.

Resumable at any point: the outbox entry goes only when its result is stored, and a pulled
page commits together with its cursor, so a crash or a dropped connection repeats at most
the last request, which the protocol makes harmless.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from client_sdk.api import Api
from client_sdk.downloads import PageDownloads
from client_sdk.errors import ErrorCode, FieldsyncError, OfflineError, ServerError
from client_sdk.session import Session
from client_sdk.store import LocalStore
from sync.hlc import Clock
from sync.protocol import MutationResult, Status

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


class Syncer:
    def __init__(self, store: LocalStore, api: Api, session: Session, clock: Clock, *,
                 retry: RetryPolicy, push_batch: int, pull_limit: int):
        self.store, self.api, self.session, self.clock = store, api, session, clock
        self.retry, self.push_batch, self.pull_limit = retry, push_batch, pull_limit

    def run(self, *, on_result: Callable[[MutationResult], None],
            progress: Callable[[dict], None] | None = None,
            finished: Callable[[], Mapping[str, str | None]] | None = None) -> SyncReport:
        """Push, then pull until caught up; `finished()` gives meta values to store with the
        last page, in its transaction (one commit less per sync)."""
        report = SyncReport()
        self.push(report, on_result)
        self.pull(report, progress, finished=finished)
        return report

    def push(self, report: SyncReport, on_result: Callable[[MutationResult], None]) -> None:
        """Push the outbox in batches, sending each batch as soon as the one before it is
        answered, while that one's results are stored (they are told in order, as stored).

        Never earlier: the server takes a mutation id at or below the last one it handled
        for a replay, so one batch's request is under way at a time. An entry leaves the
        outbox only with its stored result, so after a failure anywhere the next sync sends
        again whatever is not stored, and the server answers those from its receipts.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldsync-push") as sender:
            batch = self.store.outbox_batch(self.push_batch)
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
        return self.store.outbox_batch(self.push_batch, after=batch[-1][0]) if batch else []

    def _send(self, batch: Batch, sender: ThreadPoolExecutor | None = None
              ) -> Callable[[], bytes]:
        """Make `batch` durable, start sending it in `sender`'s thread and return the wait
        for its successful answer (with retries and token refresh, on the waiting thread).
        The answer is decoded when its results are stored, once the next batch is sent: a
        successful answer means the batch is committed, which is all the next one waits
        for. Without a sender, or a token, it is sent when waited for: the thread must not
        use the store, so the token is read here, and a failure to get one is left to the
        wait to raise."""
        self.store.make_outbox_durable(batch[-1][0])
        wire = [mutation for _, mutation in batch]
        written = threading.Event()

        def request(token: str) -> bytes:
            try:
                return self.api.push_answer(token, wire, sent=written.set)
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
        for attempt in range(self.retry.attempts):
            try:
                if attempt == 0:
                    return self._authorised(request, token, first)
                return self._authorised(request)
            except OfflineError:
                if attempt == self.retry.attempts - 1:
                    raise
            except ServerError as exc:
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
                                                     ErrorCode.INVALID_TOKEN):
                raise
        return request(self.session.refresh())
