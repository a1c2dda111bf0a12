"""Prometheus metrics at GET /metrics (prometheus_client, multiprocess under gunicorn).

Counted as requests are served (in each process, summed across gunicorn workers when
PROMETHEUS_MULTIPROC_DIR names a directory they share): request latency by endpoint,
mutations by entity, status and error code, records pulled, job runs by outcome. Read from
the database at scrape time, so every worker and host reports the same: the change-log head
and retention horizon, active devices, attachment bytes, each job's last success.

Access: with METRICS_TOKEN set, a scraper sends `Authorization: Bearer <METRICS_TOKEN>`;
without it only loopback clients are answered (a Prometheus agent on the same host).
"""

from __future__ import annotations

import hmac
import os
import time
from collections import Counter as Tally
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from server.errors import forbidden
from server.extensions import db
from server.models import SYNC_TABLES, Attachment, Device, JobRun
from sync import changelog
from sync.protocol import Mutation, Status
from sync.sqltypes import utcnow

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "fieldsync_request_duration_seconds", "Time to answer a request, by endpoint",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REQUESTS = Counter("fieldsync_requests_total", "Requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
MUTATIONS = Counter("fieldsync_mutations_total",
                    "Pushed mutations answered, by entity, status and error code",
                    ["entity", "status", "code"])
RECORDS_PULLED = Counter("fieldsync_records_pulled_total", "Records sent to devices by pull")
JOB_RUNS = Counter("fieldsync_job_runs_total", "Scheduled job runs, by job and outcome",
                   ["job", "outcome"])

LOOPBACK = frozenset({"127.0.0.1", "::1"})
ACTIVE_WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7)}


def init_metrics(app: Flask) -> None:
    """Time every request and register GET /metrics."""
    app.before_request(_start_timer)
    app.after_request(_observe_request)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe_request(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        # The endpoint's name, never the path: ids in paths would make a series each.
        endpoint = request.endpoint or "unmatched"
        REQUEST_SECONDS.labels(endpoint, request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    return response


# A wire result opens {"mutation_id":N,"status":"S" (sync.protocol.MutationResult), and the
# statuses differ in their first letter: reading one character is the cheapest way to tell.
_STATUS_KEY = '"status":"'
_STATUS_BY_INITIAL = {status.value[0]: status.value for status in Status}
assert len(_STATUS_BY_INITIAL) == len(Status), "statuses must differ in their first letter"
_ERROR_CODE = '"error":{"code":"'


def count_push(mutations: Sequence[Mutation], results: Sequence[str]) -> None:
    """Count a push's answered mutations by entity, status and error code.

    Tallied in the batch first, so the shared counters take one increment per distinct
    (entity, status) pair, not one per mutation. An entity the registry does not know is
    counted as "other": a client's misspelling must not become a series of its own."""
    entities = [m.entity for m in mutations]
    statuses = [text[text.index(_STATUS_KEY) + 10] for text in results]
    if statuses and statuses.count(statuses[0]) == len(statuses):  # the usual batch
        initials = Tally({(entity, statuses[0]): count
                          for entity, count in Tally(entities).items()})
    else:
        initials = Tally(zip(entities, statuses, strict=True))
    known = current_app.extensions["fieldsync.sync"].registry
    tally: Tally[tuple[str, str]] = Tally()
    for (entity, initial), count in initials.items():
        tally[entity if entity in known else "other", _STATUS_BY_INITIAL[initial]] += count
    for (entity, status), count in tally.items():
        if status == Status.REJECTED:
            _count_rejections(mutations, results, entity, known)
        else:
            MUTATIONS.labels(entity, status, "").inc(count)


def _count_rejections(mutations, results, entity: str, known) -> None:
    """Rejections by code, for one entity: rare, so read one by one."""
    codes = Tally(_code(text) for m, text in zip(mutations, results, strict=True)
                  if (m.entity if m.entity in known else "other") == entity
                  and _code(text) is not None)
    for code, count in codes.items():
        MUTATIONS.labels(entity, Status.REJECTED.value, code).inc(count)


def _code(result: str) -> str | None:
    """The error code of a rejected result; None for a result without an error."""
    start = result.rfind(_ERROR_CODE)
    if start < 0:
        return None
    start += len(_ERROR_CODE)
    return result[start:result.index('"', start)]


def count_pulled(records: int) -> None:
    RECORDS_PULLED.inc(records)


def count_job_run(job: str, outcome: str) -> None:
    JOB_RUNS.labels(job, outcome).inc()


@bp.get("/metrics")
def metrics():
    """The metrics in Prometheus' text format, to a scraper allowed by _check_access."""
    _check_access()
    database = CollectorRegistry(auto_describe=True)
    database.register(DatabaseCollector(db.engine))
    text = generate_latest(_process_registry()) + generate_latest(database)
    return Response(text, mimetype=CONTENT_TYPE_LATEST)


def _check_access() -> None:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip(), token):
            raise forbidden("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>")
    elif request.remote_addr not in LOOPBACK:
        raise forbidden("Metrics are answered to loopback clients unless METRICS_TOKEN is set")


def _process_registry() -> CollectorRegistry:
    """Every gunicorn worker's counters (multiprocess mode), or this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class DatabaseCollector:
    """Gauges read from the database at scrape time; `fieldsync_database_up` 0 if it fails."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def collect(self):
        up = GaugeMetricFamily("fieldsync_database_up", "1 if the metrics query succeeded")
        try:
            with self.engine.connect() as conn:
                families = list(_database_families(conn))
        except sa.exc.SQLAlchemyError:
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families


def _database_families(conn: sa.Connection):
    head = GaugeMetricFamily("fieldsync_changelog_head", "Highest change-log sequence number")
    head.add_metric([], changelog.head(conn, SYNC_TABLES))
    yield head
    horizon = GaugeMetricFamily("fieldsync_changelog_horizon",
                                "Retention horizon: cursors below it must reset")
    horizon.add_metric([], changelog.horizon(conn, SYNC_TABLES))
    yield horizon
    yield _active_devices(conn)
    attachments = GaugeMetricFamily("fieldsync_attachment_bytes",
                                    "Bytes of the attachments recorded (live records)")
    attachments.add_metric([], conn.scalar(sa.select(sa.func.coalesce(
        sa.func.sum(Attachment.size_bytes), 0)).where(Attachment.deleted_at.is_(None))))
    yield attachments
    yield _job_successes(conn)


def _active_devices(conn: sa.Connection) -> GaugeMetricFamily:
    family = GaugeMetricFamily("fieldsync_active_devices",
                               "Devices not revoked that called the API within the window",
                               labels=["window"])
    now = utcnow()
    for window, span in ACTIVE_WINDOWS.items():
        family.add_metric([window], conn.scalar(sa.select(sa.func.count()).where(
            Device.revoked_at.is_(None), Device.last_seen_at >= now - span)))
    return family


def _job_successes(conn: sa.Connection) -> GaugeMetricFamily:
    family = GaugeMetricFamily("fieldsync_job_last_success_timestamp_seconds",
                               "When each job last finished successfully (Unix time)",
                               labels=["job"])
    query = (sa.select(JobRun.job, sa.func.max(JobRun.finished_at))
             .where(JobRun.outcome == "succeeded").group_by(JobRun.job))
    for job, finished in conn.execute(query):
        family.add_metric([job], finished.timestamp())
    return family
