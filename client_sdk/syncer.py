"""One sync run: push the outbox in batches, then pull until caught up.

Resumable at any point: the outbox entry goes only when its result is stored, and a pulled
page commits together with its cursor, so a crash or a dropped connection repeats at most
the last request, which the protocol makes harmless.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from client_sdk.api import Api
from client_sdk.errors import OfflineError, ServerError
from client_sdk.session import Session
from client_sdk.store import LocalStore
from sync.hlc import Clock
from sync.protocol import MutationResult, Status

T = TypeVar("T")


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
            progress: Callable[[dict], None] | None = None) -> SyncReport:
        report = SyncReport()
        self.push(report, on_result)
        self.pull(report, progress)
        return report

    def push(self, report: SyncReport, on_result: Callable[[MutationResult], None]) -> None:
        while batch := self.store.pending(self.push_batch):
            results = self._call(lambda token, b=batch: self.api.push(token, b))
            by_id = {r.mutation_id: r for r in results}
            with self.store.transaction() as db:
                for m in batch:
                    self.store.record_result(db, m, by_id[m.mutation_id])
            for m in batch:
                result = by_id[m.mutation_id]
                report.pushed += 1
                report.conflicts += result.status is Status.CONFLICT
                report.rejected += result.status is Status.REJECTED
                report.applied += result.status in (Status.APPLIED, Status.MERGED)
                self._observe(result.record.hlc if result.record else None)
                on_result(result)

    def pull(self, report: SyncReport, progress: Callable[[dict], None] | None) -> None:
        while True:
            cursor = self.store.meta("cursor")
            try:
                page = self._call(
                    lambda token, c=cursor: self.api.pull(token, c, self.pull_limit))
            except ServerError as exc:
                if exc.code != "reset_required" or report.reset:
                    raise
                self._reset(report)
                continue
            self._apply_page(page, report)
            if progress:
                progress({"phase": page["phase"], **page["progress"],
                          "received": report.pulled})
            if not page["more"]:
                return

    def _apply_page(self, page: dict[str, Any], report: SyncReport) -> None:
        changes = page["changes"]
        with self.store.transaction() as db:
            self.store.apply_changes(db, changes)
            self.store.set_meta(db, cursor=page["cursor"])
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

    def _call(self, request: Callable[[str], T]) -> T:
        """Run `request(token)` with token refresh and backoff on transient failures."""
        for attempt in range(self.retry.attempts):
            try:
                return self._authorised(request)
            except OfflineError:
                if attempt == self.retry.attempts - 1:
                    raise
            except ServerError as exc:
                if not exc.transient or attempt == self.retry.attempts - 1:
                    raise
            self.retry.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")

    def _authorised(self, request: Callable[[str], T]) -> T:
        try:
            return request(self.session.token())
        except ServerError as exc:
            if exc.status != 401 or exc.code not in ("token_expired", "invalid_token"):
                raise
        return request(self.session.refresh())
