"""Jobs run once per period however many schedulers run them, and on demand by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli import cli
from server.extensions import db
from server.jobs import build_scheduler
from server.models import JobRun
from server.scheduling import BUSY, DONE, FAILED, SUCCEEDED, JobSpec, job_lock, run_job
from tests.conftest import app_on

NOON = datetime(2026, 12, 8, 12, 0, 30, tzinfo=UTC)


def recorded_runs(app) -> list[JobRun]:
    with app.app_context():
        return db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()


class Tally:
    """A job that counts its runs (thread-safe) and takes `seconds` to run."""

    def __init__(self, seconds: float = 0.0):
        self.runs, self.seconds, self._lock = 0, seconds, threading.Lock()

    def __call__(self, app) -> str:
        with self._lock:
            self.runs += 1
        time.sleep(self.seconds)
        return "tallied"


def test_three_schedulers_on_one_database_run_each_period_once(database_url):
    tally = Tally(seconds=0.2)  # long enough that the others fire while it still runs
    spec = JobSpec("tick", tally, period=timedelta(seconds=1))
    with app_on(database_url) as a, app_on(database_url) as b, app_on(database_url) as c:
        schedulers = [build_scheduler(app, background=True, jobs=(spec,)) for app in (a, b, c)]
        for scheduler in schedulers:
            scheduler.start()
        time.sleep(4.5)
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
        runs = recorded_runs(a)

    periods = [run.period_start for run in runs]
    assert len(runs) >= 2, "the schedulers never fired"
    assert len(set(periods)) == len(periods), f"a period ran twice: {periods}"
    assert tally.runs == len(runs)
    assert {run.outcome for run in runs} == {SUCCEEDED}


def test_a_period_that_already_ran_is_not_run_again(app):
    tally = Tally()
    spec = JobSpec("tick", tally, period=timedelta(hours=1))

    first = run_job(app, spec, now=NOON)
    again = run_job(app, spec, now=NOON + timedelta(minutes=20))
    next_hour = run_job(app, spec, now=NOON + timedelta(hours=1))

    assert (first, again, next_hour) == (SUCCEEDED, DONE, SUCCEEDED)
    assert tally.runs == 2
    assert [run.period_start for run in recorded_runs(app)] == [
        datetime(2026, 12, 8, 12, tzinfo=UTC), datetime(2026, 12, 8, 13, tzinfo=UTC)]


def test_a_job_running_in_another_scheduler_is_skipped_not_waited_for(app, database_url):
    tally = Tally()
    spec = JobSpec("tick", tally, period=timedelta(hours=1))
    with (app_on(database_url) as elsewhere, elsewhere.app_context(),
          job_lock(db.engine, "tick") as held):
        assert held
        outcome = run_job(app, spec, now=NOON)
    after = run_job(app, spec, now=NOON)

    assert (outcome, after) == (BUSY, SUCCEEDED)
    assert tally.runs == 1


def test_a_failing_job_is_recorded_and_the_next_period_still_runs(app):
    def broken(app):
        raise RuntimeError("disk full")

    spec = JobSpec("broken", broken, period=timedelta(hours=1))

    assert run_job(app, spec, now=NOON) == FAILED
    (run,) = recorded_runs(app)
    assert run.outcome == FAILED and "disk full" in run.detail and run.finished_at
    assert run_job(app, spec, now=NOON + timedelta(hours=1)) == FAILED


def test_periods_start_at_the_jobs_offset_in_utc():
    nightly = JobSpec("n", print, period=timedelta(days=1), offset=timedelta(hours=3, minutes=15))

    assert nightly.period_start(NOON) == datetime(2026, 12, 8, 3, 15, tzinfo=UTC)
    assert nightly.period_start(datetime(2026, 12, 8, 3, 14, tzinfo=UTC)) == datetime(
        2026, 12, 7, 3, 15, tzinfo=UTC)


def test_jobs_run_runs_a_job_now_even_when_its_period_already_ran(app, runner):
    first = runner.invoke(cli, ["jobs", "run", "purge_login_attempts"])
    second = runner.invoke(cli, ["jobs", "run", "purge_login_attempts"])

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "purge_login_attempts: succeeded" in second.output
    runs = recorded_runs(app)
    assert [(run.job, run.period_start, run.outcome) for run in runs] == [
        ("purge_login_attempts", None, SUCCEEDED)] * 2


def test_jobs_run_refuses_while_the_job_runs_elsewhere(app, runner):
    with app.app_context(), job_lock(db.engine, "sync_retention"):
        result = runner.invoke(cli, ["jobs", "run", "sync_retention"])

    assert result.exit_code == 1
    assert "running in another scheduler" in result.output
    assert recorded_runs(app) == []


def test_jobs_list_names_each_job_its_schedule_and_last_run(app, runner):
    runner.invoke(cli, ["jobs", "run", "purge_login_attempts"])

    result = runner.invoke(cli, ["jobs", "list"])

    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["sync_retention"].endswith("never run")
    assert "every 1:00:00" in lines["purge_login_attempts"]
    assert lines["purge_login_attempts"].endswith(": succeeded")


@pytest.mark.parametrize("name", ["nope", ""])
def test_jobs_run_lists_the_jobs_for_an_unknown_name(name):
    result = CliRunner().invoke(cli, ["jobs", "run", name])

    assert result.exit_code == 2
    assert "sync_retention" in result.output


def test_gunicorn_workers_run_the_jobs_only_when_enabled(app, monkeypatch):
    from server import gunicorn_conf

    started = []

    class Scheduler:
        def start(self):
            started.append(True)

    monkeypatch.setattr("server.jobs.build_scheduler", lambda app, background: Scheduler())
    worker = type("Worker", (), {"wsgi": app})()
    gunicorn_conf.post_worker_init(worker)
    assert started == []

    app.config["SCHEDULER_ENABLED"] = True
    gunicorn_conf.post_worker_init(worker)
    assert started == [True]
