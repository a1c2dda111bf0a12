"""SQLite WAL checkpoints in a thread of their own, so a commit does not wait for one.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into
the database file and syncs it. SQLite runs one inside whichever commit takes the log past
`wal_autocheckpoint` pages (1,000 by default), so every few pushes one push's answer also
waits for that copy and its fsync (measured: 40% of the commit time of 500 created records).

Here each write transaction (sync.database.write_transaction), once committed, wakes a
thread that runs a PASSIVE checkpoint on its own connection. That never blocks readers or
writers (the next commit appends while the copy runs, and the GIL is free while SQLite
works). Other writers (the ORM session's) do not wake it; their pages go back with the next
push's. The connections serving requests keep an automatic checkpoint at a much larger size
(FALLBACK_PAGES) as a bound, should the thread fall behind.

The thread starts on the first poke and ends after IDLE_SECONDS without one, closing its
connection, so an engine that is no longer used leaves nothing running.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

FALLBACK_PAGES = 16_000  # about 64 MiB of log at SQLite's 4 KiB pages
IDLE_SECONDS = 5.0


class WalCheckpointer:
    """Call `poke()` after a commit to the database at `path`."""

    def __init__(self, path: str, *, idle_seconds: float = IDLE_SECONDS):
        self.path, self.idle_seconds = path, idle_seconds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # runs so far, for tests and curiosity

    def poke(self) -> None:
        self._wake.set()
        with self._lock:
            # after a fork the parent's thread is gone: is_alive() says so
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="fieldsync-wal-checkpoint")
                self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=FULL")  # the checkpoint syncs the file it wrote
            while self._waited():
                # busy with another process's checkpoint: theirs does the work
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
        finally:
            conn.close()

    def _waited(self) -> bool:
        """Wait for a commit; False once none came for idle_seconds (the thread then ends)."""
        while not self._wake.wait(self.idle_seconds):
            with self._lock:
                if not self._wake.is_set():  # a poke now starts a new thread
                    self._thread = None
                    return False
        self._wake.clear()
        return True
