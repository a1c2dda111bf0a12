"""Scheduled jobs: each opens an app context and calls a pure function.

Any number of schedulers may run them (`fieldsync scheduler` on several hosts, gunicorn
workers with SCHEDULER_ENABLED=1): server.scheduling runs each once per period.
`fieldsync jobs run NAME` runs one by hand.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from server.extensions import db
from server.models import SYNC_TABLES
from server.scheduling import JobSpec, schedule_jobs
from sync.database import write_transaction
from sync.retention import RetentionReport, run_retention
from sync.sqltypes import utcnow

log = logging.getLogger(__name__)


def sync_retention(app: Flask) -> RetentionReport:
    """Compact the change log, purge old tombstones and receipts (SYNC_* settings)."""
    config = app.config
    with app.app_context(), write_transaction(db.engine) as conn:
        report = run_retention(
            conn, SYNC_TABLES, now=utcnow(),
            retention=timedelta(days=config["SYNC_RETENTION_DAYS"]),
            compact_after=timedelta(hours=config["SYNC_COMPACT_AFTER_HOURS"]),
            receipt_retention=timedelta(days=config["SYNC_RECEIPT_DAYS"]),
        )
    log.info("sync retention: %s", report)
    return report


def purge_login_attempts(app: Flask) -> int:
    """Delete login attempts older than twice the rate limiter's window."""
    from server.auth.ratelimit import purge_login_attempts as purge

    with app.app_context():
        window = timedelta(seconds=app.config["LOGIN_LIMIT_WINDOW_SECONDS"])
        removed = purge(db.session, utcnow() - 2 * window)
        db.session.commit()
    return removed


def collect_blobs(app: Flask):
    """Delete attachment bytes no record points to any more, and abandoned uploads."""
    from server.blobs.access import make_store
    from server.blobs.retention import collect_blobs as collect

    with app.app_context():
        report = collect(make_store(app.config, db.engine), db.engine, now=utcnow())
    log.info("blob retention: %s", report)
    return report


JOBS = (
    JobSpec("sync_retention", sync_retention, period=timedelta(days=1),
            offset=timedelta(hours=3, minutes=15)),
    JobSpec("collect_blobs", collect_blobs, period=timedelta(days=1),
            offset=timedelta(hours=3, minutes=45)),
    JobSpec("purge_login_attempts", purge_login_attempts, period=timedelta(hours=1),
            offset=timedelta(minutes=5)),
)


def job_named(name: str) -> JobSpec:
    """The job called `name`; raises KeyError for an unknown name."""
    return {spec.name: spec for spec in JOBS}[name]


def build_scheduler(app: Flask, *, background: bool, jobs: tuple[JobSpec, ...] = JOBS
                    ) -> BackgroundScheduler | BlockingScheduler:
    """A scheduler with fieldsync's jobs (retention nightly at 03:15 UTC, attachment bytes
    at 03:45, login attempts hourly at :05), each run once per period however many
    schedulers run."""
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="UTC")
    schedule_jobs(scheduler, app, jobs)
    return scheduler
