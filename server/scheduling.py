"""Run each scheduled job once per period, however many schedulers run it.

Any number of schedulers (`fieldsync scheduler` on several hosts, or one inside each
gunicorn worker) fire the same jobs at the same instants: every trigger is anchored to one
fixed instant, so all of them agree on which period a run belongs to. Each firing then:

1. takes the job's lock without waiting (a PostgreSQL advisory lock held on a connection of
   its own for the run; an fcntl file lock beside the SQLite file) and gives up if another
   scheduler holds it;
2. records the run for its period in `job_run`, unless a run of that period is recorded
   already (then another scheduler ran it: give up);
3. runs the job and records how it ended.

A scheduler that dies mid-run releases its lock with its connection or file; its run stays
`running` in the record, and the next period runs as usual.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from server.extensions import db
from server.metrics import count_job_run
from server.models import JobRun
from sync.database import write_transaction
from sync.sqltypes import utcnow

log = logging.getLogger(__name__)

# Every job's periods are counted from here (plus the job's offset), in UTC.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)

SUCCEEDED, FAILED = "succeeded", "failed"
BUSY, DONE = "skipped_busy", "skipped_done"  # another scheduler runs it / has run it

_runs = JobRun.__table__


@dataclass(frozen=True)
class JobSpec:
    """A job: `run(app)` once every `period`, starting `offset` into each period."""

    name: str
    run: Callable[[Flask], Any]
    period: timedelta
    offset: timedelta = timedelta(0)

    def period_start(self, now: datetime) -> datetime:
        """The start of the period `now` falls in."""
        anchor = ANCHOR + self.offset
        return anchor + ((now - anchor) // self.period) * self.period

    def trigger(self) -> IntervalTrigger:
        """Fires at each period's start, the same instants in every scheduler."""
        return IntervalTrigger(seconds=self.period.total_seconds(),
                               start_date=ANCHOR + self.offset, timezone=UTC)

    @property
    def schedule(self) -> str:
        return f"every {self.period}, at +{self.offset} into each period (UTC)"


def schedule_jobs(scheduler, app: Flask, jobs: tuple[JobSpec, ...]) -> None:
    """Add `jobs` to an APScheduler scheduler, each run through run_job."""
    for spec in jobs:
        # A scheduler that fires late (busy, or just started) still runs a period whose run
        # nobody recorded, up to half a period late.
        scheduler.add_job(run_job, spec.trigger(), args=[app, spec], id=spec.name,
                          coalesce=True, max_instances=1,
                          misfire_grace_time=max(1, int(spec.period.total_seconds() / 2)))


def run_job(app: Flask, spec: JobSpec, *, scheduled: bool = True,
            now: datetime | None = None) -> str:
    """Run `spec` now unless another scheduler runs it or has run it for this period.

    `scheduled=False` is a run asked for by hand: it runs even if the period's run is done,
    but never beside another run of the job. Returns SUCCEEDED, FAILED, BUSY or DONE; the
    job's own exception is logged and recorded, not raised.
    """
    now = now or utcnow()
    period = spec.period_start(now) if scheduled else None
    with app.app_context():
        engine = db.engine
    with job_lock(engine, spec.name) as held:
        if not held:
            log.info("job %s: running elsewhere, skipped", spec.name)
            return BUSY
        run_id = _record_start(engine, spec.name, period, now)
        if run_id is None:
            log.info("job %s: period %s already ran, skipped", spec.name, period)
            return DONE
        return _run_and_record(app, spec, engine, run_id)


def _record_start(engine: sa.Engine, job: str, period: datetime | None,
                  now: datetime) -> int | None:
    """Record a run starting; None when the period's run is recorded already."""
    try:
        with write_transaction(engine) as conn:
            if period is not None and conn.execute(sa.select(_runs.c.id).where(
                    _runs.c.job == job, _runs.c.period_start == period)).first():
                return None
            return conn.execute(_runs.insert().values(
                job=job, period_start=period, started_at=now, outcome="running",
                host=socket.gethostname()[:255], pid=os.getpid())).inserted_primary_key[0]
    except sa.exc.IntegrityError:
        return None


def _run_and_record(app: Flask, spec: JobSpec, engine: sa.Engine, run_id: int) -> str:
    try:
        result = spec.run(app)
    except Exception as exc:  # a job's failure is recorded and the scheduler goes on
        log.exception("job %s failed", spec.name)
        outcome, detail = FAILED, repr(exc)
    else:
        outcome, detail = SUCCEEDED, None if result is None else str(result)
    with write_transaction(engine) as conn:
        conn.execute(_runs.update().where(_runs.c.id == run_id).values(
            finished_at=utcnow(), outcome=outcome, detail=detail and detail[:2000]))
    count_job_run(spec.name, outcome)
    return outcome


@contextmanager
def job_lock(engine: sa.Engine, job: str) -> Iterator[bool]:
    """Try to take `job`'s lock across processes and hosts; yields whether it was taken.

    PostgreSQL: a session advisory lock, so every host sharing the database sees it and a
    dead holder's lock goes with its connection. SQLite: flock on a file beside the
    database, which every process on the host sharing the file sees.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, _lock_key(job)) as held:
            yield held
    else:
        with _file_lock(_lock_path(engine, job)) as held:
            yield held


def _lock_key(job: str) -> int:
    digest = hashlib.sha256(f"fieldsync.job.{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _advisory_lock(engine: sa.Engine, key: int) -> Iterator[bool]:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        held = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
        try:
            yield held
        finally:
            if held:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))


def _lock_path(engine: sa.Engine, job: str) -> str:
    database = engine.url.database
    if database in (None, "", ":memory:"):  # a private database: a private lock suffices
        return os.path.join(tempfile.gettempdir(), f"fieldsync-{os.getpid()}.job-{job}.lock")
    return f"{database}.job-{job}.lock"


@contextmanager
def _file_lock(path: str) -> Iterator[bool]:
    # flock, not lockf: its lock belongs to the open file, so two schedulers in one process
    # (threads, tests) exclude each other too.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def last_runs(engine: sa.Engine) -> dict[str, sa.Row]:
    """Each job's latest recorded run, by job name (empty before any run)."""
    latest = (sa.select(_runs.c.job, sa.func.max(_runs.c.id).label("id"))
              .group_by(_runs.c.job).subquery())
    query = sa.select(_runs).join(latest, latest.c.id == _runs.c.id)
    with engine.connect() as conn:
        return {row.job: row for row in conn.execute(query)}
