"""Pull pages downloaded ahead in a thread, each from the cursor of the page before it.

The server builds a page only when asked, and asking needs the cursor of the page before, so
a loop that asks for page N+1 only once page N is applied waits, page after page, for
whichever of the two is slower. Here the downloads go on by themselves while the pages are
applied, a bounded number of pages ahead (docs/protocol.md allows asking with the cursor of
a page received but not yet applied); the pages are still taken, and applied, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

Page = dict[str, Any]
DEPTH = 2  # pages downloaded and waiting: enough to even out slow and quick pages


class PageDownloads:
    """Use as a context manager: leaving it stops the downloads (after the request under way)
    and drops the pages not taken. `token` is the access token each download starts with
    (None: the fetch asks for one); set it anew as it changes."""

    def __init__(self, fetch: Callable[[str, str | None], Page], *, depth: int = DEPTH):
        self._fetch = fetch
        self._ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.token: str | None = None

    def __enter__(self) -> PageDownloads:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def start(self, cursor: str) -> None:
        """Download the pages after `cursor` until one says `more: false` or a download
        fails; the downloads started before must have ended so (and been taken)."""
        self._thread = threading.Thread(target=self._run, args=(cursor,), daemon=True,
                                        name="fieldsync-pull")
        self._thread.start()

    def next(self) -> Page:
        """The next page, once downloaded; raises what downloading it raised."""
        ok, value = self._ready.get()
        if not ok:
            raise value
        return value

    def _run(self, cursor: str) -> None:
        while not self._stop.is_set():
            try:
                page = self._fetch(cursor, self.token)
            except BaseException as exc:  # handed to the thread that takes the page
                self._hand_over(False, exc)
                return
            self._hand_over(True, page)
            if not page["more"]:
                return
            cursor = page["cursor"]

    def _hand_over(self, ok: bool, value: Any) -> None:
        while not self._stop.is_set():
            try:
                self._ready.put((ok, value), timeout=0.05)
                return
            except queue.Full:
                continue
