"""A device's network for end-to-end tests: real HTTP to the live server, failing on demand.

`Network` is an httpx transport handed to SyncClient. Tests switch it offline, have it lose
the answers to requests the server did handle, or run a callback at the moment a request has
been sent in full (to crash the server while it works on it). It logs every exchange.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

ANSWERED, DROPPED, LOST = "answered", "dropped", "lost"
UNREACHABLE, OFFLINE = "unreachable", "offline"


@dataclass(frozen=True)
class Exchange:
    path: str
    outcome: str  # answered, dropped (handled, answer lost), lost (sent, never answered),
    #               unreachable (nobody listening) or offline (never left the device)
    seconds: float  # from the request fully sent to its answer (or failure)
    body: bytes  # what was sent
    answer: bytes | None  # what came back, when it did (dropped answers included)


class _CallWhenSent(httpx.SyncByteStream):
    """A request body that calls back once its last byte went to the socket."""

    def __init__(self, stream: httpx.SyncByteStream, on_sent: Callable[[], None]):
        self._stream, self._on_sent = stream, on_sent

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream
        self._on_sent()


class Network(httpx.BaseTransport):
    """Real HTTP, with faults a test arms per request path suffix (e.g. "/sync/push")."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.online = True
        self._drops: dict[str, int] = {}
        self._on_sent: dict[str, list[Callable[[], None]]] = {}
        self.log: list[Exchange] = []

    def drop(self, path: str, times: int = 1) -> None:
        """Lose the answers of the next `times` requests to `path` (the server handles them)."""
        with self._lock:
            self._drops[path] = self._drops.get(path, 0) + times

    def when_sent(self, path: str, callback: Callable[[], None]) -> None:
        """Run `callback()` once, when the next request to `path` has been sent in full."""
        with self._lock:
            self._on_sent.setdefault(path, []).append(callback)

    def exchanges(self, path: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.log if e.path.endswith(path)]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not self.online:
            self._record(request, OFFLINE, [], None)
            raise httpx.ConnectError("the device is offline", request=request)
        sent_at: list[float] = []
        request.stream = _CallWhenSent(request.stream, lambda: self._sent(path, sent_at))
        try:
            response = self._inner.handle_request(request)
            response.read()
        except httpx.TransportError:
            self._record(request, LOST if sent_at else UNREACHABLE, sent_at, None)
            raise
        if self._take_drop(path):
            self._record(request, DROPPED, sent_at, response.content)
            response.close()
            raise httpx.ConnectError("the answer was lost on the way back", request=request)
        self._record(request, ANSWERED, sent_at, response.content)
        return response

    def close(self) -> None:
        self._inner.close()

    def _sent(self, path: str, sent_at: list[float]) -> None:
        sent_at.append(time.monotonic())
        if callback := self._next_callback(path):
            callback()

    def _next_callback(self, path: str) -> Callable[[], None] | None:
        with self._lock:
            for suffix, callbacks in self._on_sent.items():
                if path.endswith(suffix) and callbacks:
                    return callbacks.pop(0)
        return None

    def _take_drop(self, path: str) -> bool:
        with self._lock:
            for suffix, count in self._drops.items():
                if path.endswith(suffix) and count:
                    self._drops[suffix] = count - 1
                    return True
        return False

    def _record(self, request: httpx.Request, outcome: str, sent_at: list[float],
                answer: bytes | None) -> None:
        seconds = time.monotonic() - sent_at[0] if sent_at else 0.0
        exchange = Exchange(request.url.path, outcome, seconds, request.content, answer)
        with self._lock:
            self.log.append(exchange)
