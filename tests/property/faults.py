"""A flaky network for SyncClient: an httpx transport that loses requests or responses.

Wraps `httpx.WSGITransport` so the devices talk to the Flask app in-process. When armed with
a `Fault` it breaks one request of the next sync run: either the request never reaches the
server, or the server handles it and the answer is lost on the way back (the case exactly-once
push exists for). Every exchange that reached the server is reported to an observer, with
whether the device got the answer, so a test can keep a model of what each device was told.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx


@dataclass(frozen=True)
class Fault:
    """Break the `nth` request (0-based) to the `endpoint` ("push" or "pull") of one sync."""

    endpoint: Literal["push", "pull"]
    nth: int
    lost: Literal["request", "response"]


@dataclass(frozen=True)
class Exchange:
    """One request the server handled, and whether its answer reached the device."""

    endpoint: str
    request: Any
    status: int
    response: Any
    delivered: bool


class FaultyTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, observe: Callable[[Exchange], None]):
        self.inner, self.observe = inner, observe
        self.fault: Fault | None = None
        self.seen: Counter[str] = Counter()

    def arm(self, fault: Fault | None) -> None:
        """Break one request of the coming sync run as `fault` says (None: a good network)."""
        self.fault = fault
        self.seen.clear()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        fault = self._due(endpoint)
        if fault is not None and fault.lost == "request":
            raise httpx.ConnectError("injected fault: the request was lost", request=request)
        response = self.inner.handle_request(request)
        content = response.read()
        self.observe(Exchange(endpoint, _json(request.read()), response.status_code,
                              _json(content), delivered=fault is None))
        if fault is not None:
            raise httpx.ConnectError("injected fault: the response was lost", request=request)
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              request=request)

    def _due(self, endpoint: str) -> Fault | None:
        nth = self.seen[endpoint]
        self.seen[endpoint] += 1
        fault = self.fault
        if fault is None or fault.endpoint != endpoint or fault.nth != nth:
            return None
        self.fault = None
        return fault


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
