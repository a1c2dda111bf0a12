"""A real fieldsync server (gunicorn on a loopback port) that tests can crash and restart.

The server runs as it would in production: `gunicorn 'server:create_app()'` with
FIELDSYNC_ENV=production, configured by environment variables only, on its own database.
"""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class LiveServer:
    """One server process on a fixed loopback port and database, across restarts."""

    def __init__(self, database_url: str, log_path: Path, *, workers: int = 2,
                 env: Mapping[str, str] | None = None):
        self.database_url = database_url
        self.log_path = log_path
        self.port = free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "e2e-" + secrets.token_hex(24),
            "FIELDSYNC_ENV": "production",
            "SCHEDULER_ENABLED": "0",
            **(env or {}),
        }
        self._launcher: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._launcher is not None and self._launcher.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until /api/v1/health answers; raises RuntimeError."""
        if self.running:
            raise RuntimeError("the server is already running")
        with self.log_path.open("ab") as log:
            self._launcher = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.server_launcher", *self._gunicorn_args()],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy(timeout)

    def crash(self) -> None:
        """SIGKILL every server process at once (no graceful shutdown) and wait for them."""
        self._signal_and_wait(signal.SIGUSR1)

    def restart(self) -> None:
        """Start again on the same port and database, after a crash."""
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _gunicorn_args(self) -> list[str]:
        # --preload: the app is built once and forked, so workers are up as soon as one is.
        return ["--bind", f"{HOST}:{self.port}", "--workers", str(self.workers),
                "--worker-class", "gthread", "--threads", "4", "--timeout", "120", "--preload",
                "--graceful-timeout", "5", "--no-control-socket", "server:create_app()"]

    def _signal_and_wait(self, signum: int) -> None:
        launcher = self._launcher
        if launcher is None or launcher.poll() is not None:
            return
        launcher.send_signal(signum)
        launcher.wait(timeout=STOP_TIMEOUT)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._launcher.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.05)
        self.crash()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        # http.client, not httpx: polling must stay cheap while the workers boot.
        connection = http.client.HTTPConnection(HOST, self.port, timeout=1.0)
        try:
            connection.request("GET", "/api/v1/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()
