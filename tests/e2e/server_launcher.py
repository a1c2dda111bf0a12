"""Run gunicorn so that an end-to-end test can crash it and still see every process reaped.

    python -m tests.e2e.server_launcher <gunicorn arguments...>

SIGUSR1 crashes the server: SIGKILL to the master and every worker at once, so open
transactions are cut off and nothing shuts down gracefully. SIGTERM stops it gracefully.
The launcher is a child subreaper: the workers a crash orphans are reaped here rather than
left as zombies (a container's PID 1 often reaps nothing), and it exits only once every
server process is gone, so "the launcher has exited" means "the server is down".
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def main(args: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # If the test process dies without stopping us, take the server down with it.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    server: dict[str, int | None] = {"pid": None, "pending": None}

    def forward(signum: int) -> None:
        if server["pid"] is None:
            server["pending"] = signum  # arrived before gunicorn started: sent once it has
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server["pid"], signum)

    signal.signal(signal.SIGUSR1, lambda *_: forward(signal.SIGKILL))
    signal.signal(signal.SIGTERM, lambda *_: forward(signal.SIGTERM))
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", *args],
                                start_new_session=True)
    server["pid"] = gunicorn.pid
    if server["pending"] is not None:
        forward(server["pending"])
    return _reap_everything(gunicorn.pid, server)


def _reap_everything(server_pid: int, server: dict[str, int | None]) -> int:
    code = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return code
        if pid == server_pid:
            server["pid"] = None  # its process group may be gone; never signal a reused id
            server["pending"] = None
            code = os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
