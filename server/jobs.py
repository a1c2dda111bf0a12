"""Scheduled jobs: each opens an app context and calls a pure function.

Run them in one process (`fieldsync scheduler`), not in every gunicorn worker; the
development server runs them in a background thread when SCHEDULER_ENABLED=1.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from server.extensions import db
from server.models import SYNC_TABLES
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


def build_scheduler(app: Flask, *, background: bool) -> BackgroundScheduler | BlockingScheduler:
    """A scheduler with fieldsync's jobs: retention (records, then blobs) nightly, login
    attempts hourly."""
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="UTC")
    scheduler.add_job(sync_retention, "cron", hour=3, minute=15, args=[app],
                      id="sync_retention", coalesce=True, max_instances=1)
    scheduler.add_job(collect_blobs, "cron", hour=3, minute=45, args=[app],
                      id="collect_blobs", coalesce=True, max_instances=1)
    scheduler.add_job(purge_login_attempts, "interval", hours=1, args=[app],
                      id="purge_login_attempts", coalesce=True, max_instances=1)
    return scheduler
