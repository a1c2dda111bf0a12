"""Prometheus metrics: what the server counts, what it reads at scrape time, who may scrape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from server.scheduling import JobSpec, run_job
from tests.conftest import TEST_CONFIG
from tests.device import Device
from tests.world import build_world

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def sample(name: str, **labels: str) -> float:
    """This process's value of a counter (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(client, **kwargs) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def account(w, name="Metered") -> dict:
    return {"entity": "account", "id": str(uuid.uuid4()), "op": "create",
            "fields": {"territory_id": w.territories["N"], "name": name}}


def test_pushed_mutations_are_counted_by_entity_status_and_code(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    applied = sample("fieldsync_mutations_total", entity="account", status="applied", code="")
    unknown = sample("fieldsync_mutations_total", entity="other", status="rejected",
                     code="unknown_entity")

    rep.push(account(w), account(w), {"entity": "spaceship", "id": str(uuid.uuid4()),
                                      "op": "create", "fields": {}})

    rep.push(account(w), account(w), account(w))  # one entity, one status: the usual batch

    assert sample("fieldsync_mutations_total", entity="account", status="applied",
                  code="") == applied + 5
    assert sample("fieldsync_mutations_total", entity="other", status="rejected",
                  code="unknown_entity") == unknown + 1


def test_pulled_records_and_request_latency_are_counted(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    pulled = sample("fieldsync_records_pulled_total")
    timed = sample("fieldsync_request_duration_seconds_count", endpoint="sync.pull",
                   method="POST")

    received = rep.sync()

    assert received and sample("fieldsync_records_pulled_total") == pulled + len(received)
    assert sample("fieldsync_request_duration_seconds_count", endpoint="sync.pull",
                  method="POST") > timed


def test_the_scrape_reads_the_change_log_devices_and_jobs_from_the_database(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    rep.push(account(w))
    run_job(app, JobSpec("tick", lambda app: None, period=timedelta(hours=1)))

    found = scraped(client)

    assert found["fieldsync_database_up", ()] == 1
    assert found["fieldsync_changelog_head", ()] >= 1
    assert found["fieldsync_changelog_horizon", ()] == 0
    assert found["fieldsync_active_devices", (("window", "1d"),)] == 1
    assert found["fieldsync_job_last_success_timestamp_seconds", (("job", "tick"),)] > 0
    assert found["fieldsync_job_runs_total", (("job", "tick"), ("outcome", "succeeded"))] >= 1


def test_without_a_token_only_loopback_clients_may_scrape(client):
    assert client.get("/metrics").status_code == 200
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"


def test_with_a_token_any_client_that_sends_it_may_scrape(app, client):
    app.config["METRICS_TOKEN"] = "scrape-token-0123456789"

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scraped(client, environ_base=OUTSIDE,
            headers={"Authorization": "Bearer scrape-token-0123456789"})


MULTIPROCESS_WORKER = """
from server.metrics import count_job_run
count_job_run("retention", "succeeded")
"""

MULTIPROCESS_SCRAPE = """
import sys
from server import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "ENV": "testing",
                  "SECRET_KEY": sys.argv[2]}, env={})
sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
"""


def test_under_gunicorn_the_scrape_sums_every_workers_counters(database_url, tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two "workers", each its own process
        subprocess.run([sys.executable, "-c", MULTIPROCESS_WORKER], env=env, check=True,
                       timeout=60)

    text = subprocess.run([sys.executable, "-c", MULTIPROCESS_SCRAPE, database_url,
                           TEST_CONFIG["SECRET_KEY"]], env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout

    assert 'fieldsync_job_runs_total{job="retention",outcome="succeeded"} 2.0' in text


def test_the_sample_dashboard_charts_only_metrics_the_server_exposes(app, client):
    dashboard = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
    exprs = [t["expr"] for p in json.loads(dashboard.read_text())["panels"]
             for t in p["targets"]]
    w = build_world(app)
    Device(client, w.user("rep_n")).push(account(w))
    run_job(app, JobSpec("tick", lambda app: None, period=timedelta(hours=1)))
    exposed = {name for name, _ in scraped(client)}

    charted = {name for expr in exprs for name in re.findall(r"fieldsync_\w+", expr)}
    assert charted and charted <= exposed, charted - exposed
