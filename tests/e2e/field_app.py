"""A technician's field app as its own process, for the tests that kill it.

    python -m tests.e2e.field_app work <replica> <work order id> <part id>
        reuses the replica's session and works offline without end: uses a part, logs
        time, uses a part... printing "<entity> <id>" after each write has committed.
    python -m tests.e2e.field_app sync-and-die <replica>
        syncs, and SIGKILLs itself the moment the first push's answer has arrived, before
        the SDK can store it (the server has applied the batch by then).

The test reads the printed lines and kills the process (SIGKILL) whenever it likes.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

import httpx

from client_sdk import SyncClient
from client_sdk.field import FieldActions


class DieOnPushAnswer(httpx.HTTPTransport):
    """Real HTTP, but the process dies as soon as a push has been answered."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/sync/push"):
            response.read()
            os.kill(os.getpid(), signal.SIGKILL)
        return response


def work(replica: str, work_order_id: str, part_id: str) -> None:
    field = FieldActions(SyncClient(replica))
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    for n in itertools.count():
        used = field.use_part(work_order_id, part_id, 1)
        print("part_used", used, flush=True)
        begin = start + timedelta(minutes=n)
        entry = field.log_time(work_order_id, begin, begin + timedelta(minutes=1))
        print("time_entry", entry, flush=True)


def sync_and_die(replica: str) -> None:
    SyncClient(replica, transport=DieOnPushAnswer()).sync()
    raise SystemExit("the push was never answered")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"work": work, "sync-and-die": sync_and_die}[command](*arguments)
