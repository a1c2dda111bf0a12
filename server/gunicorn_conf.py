"""gunicorn settings hooks for fieldsync: `gunicorn -c python:server.gunicorn_conf ...`.

- With SCHEDULER_ENABLED=1 each worker runs the scheduled jobs in a background thread;
  server.scheduling runs each job once per period across all of them.
- With PROMETHEUS_MULTIPROC_DIR set, a worker's metrics files are marked dead when it
  exits, so its gauges stop counting (prometheus_client's multiprocess mode).

Other gunicorn settings (-w, --threads, -b) are given on the command line as usual.
"""

from __future__ import annotations

import os


def post_worker_init(worker) -> None:
    """Start the jobs in this worker when the app asks for it (SCHEDULER_ENABLED=1)."""
    app = worker.wsgi
    if getattr(app, "config", {}).get("SCHEDULER_ENABLED"):
        from server.jobs import build_scheduler

        build_scheduler(app, background=True).start()


def child_exit(server, worker) -> None:
    """A worker is gone: drop its live gauges from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
