"""A real fieldsync server for the benchmarks: gunicorn on a loopback port, in a subprocess.

The server runs `create_bench_app()`: the production app (FIELDSYNC_ENV=production, settings
from the environment) plus two things only the benchmark installs: a `Server-Timing: app;dur=`
header with the time each request spent in the app, and, when FIELDSYNC_BENCH_PROFILE names a
folder, a cProfile of the requests written there when the worker exits.
"""

from __future__ import annotations

import atexit
import contextlib
import cProfile
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from bench.scenarios.measure import descendants, peak_rss_mib, write_profile_summary

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
PROFILE_ENV = "FIELDSYNC_BENCH_PROFILE"
# Logins are rate limited per address; every simulated device logs in from 127.0.0.1.
BENCH_SETTINGS = {"LOGIN_LIMIT_PER_ADDRESS": "100000", "LOGIN_LIMIT_PER_USER": "1000",
                  "SCHEDULER_ENABLED": "0", "FIELDSYNC_ENV": "production"}


def create_bench_app():
    """gunicorn factory: the production app with request timing (and optional profiling)."""
    from flask import g

    from server import create_app

    app = create_app()
    profile = _worker_profile()

    @app.before_request
    def _start_clock():
        g.bench_started = time.perf_counter()
        if profile is not None:
            profile.enable()

    @app.after_request
    def _server_timing(response):
        if profile is not None:
            profile.disable()
        elapsed = (time.perf_counter() - g.bench_started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.3f}"
        return response

    return app


def _worker_profile() -> cProfile.Profile | None:
    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        return None
    # FIELDSYNC_BENCH_PROFILE_CLOCK=cpu: processor time of the thread, without the waits.
    cpu = os.environ.get(PROFILE_ENV + "_CLOCK") == "cpu"
    profile = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()
    atexit.register(lambda: profile.dump_stats(Path(folder) / f"server-{os.getpid()}.pstats"))
    return profile


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class BenchServer:
    """`gunicorn 'bench.scenarios.servers:create_bench_app()'` on a free loopback port.

    Use as a context manager; `peak_rss_mib()` must be read while it runs.
    """

    def __init__(self, database_url: str, log_path: Path, *, workers: int = 1,
                 threads: int = 4, worker_class: str = "gthread",
                 profile_dir: Path | None = None, env: Mapping[str, str] | None = None):
        self.port = free_port()
        self.log_path = log_path
        self.args = ["--bind", f"{HOST}:{self.port}", "--workers", str(workers),
                     "--worker-class", worker_class, "--threads", str(threads),
                     "--timeout", "300", "--graceful-timeout", "10", "--no-control-socket",
                     "bench.scenarios.servers:create_bench_app()"]
        self.env = {**os.environ, **BENCH_SETTINGS, "DATABASE_URL": database_url,
                    "SECRET_KEY": "bench-" + secrets.token_hex(24), **(env or {})}
        if profile_dir is not None:
            self.env[PROFILE_ENV] = str(profile_dir)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> BenchServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *self.args], cwd=REPO, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def workers(self) -> list[int]:
        return descendants(self.process.pid) if self.process else []

    def peak_rss_mib(self) -> float | None:
        """The largest peak RSS among the worker processes (the master only forks them)."""
        peaks = [p for pid in self.workers() if (p := peak_rss_mib(pid)) is not None]
        return max(peaks) if peaks else None

    def stop(self) -> None:
        """SIGTERM the master and wait; SIGKILL the master and its workers after a timeout."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        workers = self.workers()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for pid in [process.pid, *workers]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bench server exited at start:\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the bench server did not answer in {START_TIMEOUT} s:\n"
                           f"{self.log_tail()}")

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=2.0)
        try:
            connection.request("GET", "/api/v1/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()


@contextlib.contextmanager
def bench_server(ctx, folder: Path, database_url: str, *, workers: int = 1, threads: int = 4,
                 env: Mapping[str, str] | None = None):
    """A BenchServer for a scenario; with `ctx.profile`, profile its requests (one thread per
    worker, so every request is seen) and leave the summary in `folder`."""
    profile_dir = folder / "server-profile" if ctx.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        threads = 1
    server = BenchServer(database_url, folder / "server.log", workers=workers, threads=threads,
                         profile_dir=profile_dir, env=env)
    with server:
        yield server
    if profile_dir is not None and (dumps := sorted(profile_dir.glob("*.pstats"))):
        out = write_profile_summary(dumps, folder / "server-profile.txt")
        ctx.note(f"server profile of `{folder.name}`: {out}")
