"""Hybrid logical clock: wall time plus a counter, so causally later writes compare later.

A timestamp renders as `WWWWWWWWWWWWW-CCCC-node` (13-digit milliseconds, 4 hex digits of
counter) and strings compare in timestamp order. The server caps a device's wall time at its
own time plus `max_drift_ms`, so a laptop whose clock runs days ahead cannot win every
last-writer-wins conflict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sync.frozen import quick_init

ZERO = "0000000000000-0000-0"
MAX_COUNTER = 0xFFFF
MAX_NODE = 45  # a UUID device id fits; the whole timestamp stays within 64 characters


@quick_init
@dataclass(frozen=True, order=True)
class Timestamp:
    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:04x}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        """Parse a rendered timestamp; raises ValueError if it is not one."""
        wall, counter, node = text.split("-", 2)
        if len(wall) != 13 or len(counter) != 4 or not 0 < len(node) <= MAX_NODE:
            raise ValueError(f"not an HLC timestamp: {text!r}")
        return cls(int(wall), int(counter, 16), node)


# What Timestamp.parse raises for text that is not a timestamp (or not text at all).
NOT_A_TIMESTAMP = (ValueError, AttributeError, TypeError)


def is_valid(text: object) -> bool:
    try:
        Timestamp.parse(text)  # type: ignore[arg-type]
    except NOT_A_TIMESTAMP:
        return False
    return True


class Clock:
    """A thread-safe HLC for one node (a device id, or "server")."""

    def __init__(self, node: str, *, now_ms: Callable[[], int] | None = None, last: str = ZERO):
        self.node = node
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._last = Timestamp.parse(last)
        self._lock = threading.Lock()

    def now(self) -> str:
        """A timestamp for a local event, later than every timestamp seen so far."""
        with self._lock:
            self._last = self._advance(self._now_ms())
            return str(self._last)

    def observe(self, remote: str, *, max_drift_ms: int | None = None) -> str:
        """Merge a remote timestamp into this clock; returns the (possibly capped) remote.

        With `max_drift_ms`, a remote wall time further ahead than that is capped first.
        """
        stamp = Timestamp.parse(remote)
        with self._lock:
            physical = self._now_ms()
            if max_drift_ms is not None and stamp.wall_ms > physical + max_drift_ms:
                stamp = Timestamp(physical + max_drift_ms, stamp.counter, stamp.node)
            if stamp > self._last:
                self._last = Timestamp(stamp.wall_ms, stamp.counter, self.node)
            self._last = self._advance(physical)
            return str(stamp)

    def _advance(self, physical: int) -> Timestamp:
        last = self._last
        if physical > last.wall_ms:
            return Timestamp(physical, 0, self.node)
        if last.counter >= MAX_COUNTER:
            return Timestamp(last.wall_ms + 1, 0, self.node)
        return Timestamp(last.wall_ms, last.counter + 1, self.node)
