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
        return _render(self.wall_ms, self.counter, self.node)

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        """Parse a rendered timestamp; raises ValueError if it is not one."""
        return cls(*_parse(text))


def _parse(text: str) -> tuple[int, int, str]:
    wall, counter, node = text.split("-", 2)
    if len(wall) != 13 or len(counter) != 4 or not 0 < len(node) <= MAX_NODE:
        raise ValueError(f"not an HLC timestamp: {text!r}")
    return int(wall), int(counter, 16), node


# What Timestamp.parse raises for text that is not a timestamp (or not text at all).
NOT_A_TIMESTAMP = (ValueError, AttributeError, TypeError)


def is_valid(text: object) -> bool:
    try:
        Timestamp.parse(text)  # type: ignore[arg-type]
    except NOT_A_TIMESTAMP:
        return False
    return True


class Clock:
    """A thread-safe HLC for one node (a device id, or "server").

    It keeps its last timestamp as two integers (its node is always this clock's) and parses
    and renders text directly: the server observes one timestamp per pushed mutation.
    """

    def __init__(self, node: str, *, now_ms: Callable[[], int] | None = None, last: str = ZERO):
        self.node = node
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._wall, self._counter, _ = _parse(last)
        self._lock = threading.Lock()

    def now(self) -> str:
        """A timestamp for a local event, later than every timestamp seen so far."""
        with self._lock:
            self._advance(self._now_ms())
            return _render(self._wall, self._counter, self.node)

    def observe(self, remote: str, *, max_drift_ms: int | None = None) -> str:
        """Merge a remote timestamp into this clock; returns the (possibly capped) remote.

        With `max_drift_ms`, a remote wall time further ahead than that is capped first.
        Raises one of NOT_A_TIMESTAMP if `remote` is not a timestamp.
        """
        wall, counter, node = _parse(remote)
        with self._lock:
            physical = self._now_ms()
            if max_drift_ms is not None and wall > physical + max_drift_ms:
                wall = physical + max_drift_ms
            # (a remote equal in both but for its node changes nothing either way)
            if (wall, counter) > (self._wall, self._counter):
                self._wall, self._counter = wall, counter
            self._advance(physical)
            return _render(wall, counter, node)

    def _advance(self, physical: int) -> None:
        if physical > self._wall:
            self._wall, self._counter = physical, 0
        elif self._counter >= MAX_COUNTER:
            self._wall, self._counter = self._wall + 1, 0
        else:
            self._counter += 1


def _render(wall_ms: int, counter: int, node: str) -> str:
    return f"{wall_ms:013d}-{counter:04x}-{node}"
