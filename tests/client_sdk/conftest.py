"""SDK clients on replica files, talking to the Flask app in-process over WSGI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from client_sdk import RetryPolicy, SyncClient
from client_sdk.field import FieldActions
from tests.world import World, build_world

SERVER_URL = "http://fieldsync.test"


def no_wait(seconds: float) -> None:
    """Backoff that does not sleep, so retry paths run at test speed."""


class Network(httpx.BaseTransport):
    """The app over WSGI, with a switch that cuts one device off like a dead zone."""

    def __init__(self, app):
        self.app = httpx.WSGITransport(app=app)
        self.online = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.online:
            raise httpx.ConnectError("no network", request=request)
        return self.app.handle_request(request)


@dataclass
class Device:
    """One installation: its SDK client, field actions on it, and its own network link."""

    client: SyncClient
    field: FieldActions
    network: Network

    def offline(self) -> None:
        self.network.online = False

    def online(self) -> None:
        self.network.online = True


@pytest.fixture
def world(app) -> World:
    return build_world(app)


@pytest.fixture
def connect(app, world, tmp_path) -> Iterator[Callable[..., Device]]:
    """connect("rep_n") -> that world user's Device, signed in and synced once."""
    opened: list[SyncClient] = []

    def open_device(user: str, name: str = "laptop", *,
                    now: Callable[[], datetime] | None = None) -> Device:
        network = Network(app)
        client = SyncClient(tmp_path / f"{user}-{name}.db", server_url=SERVER_URL,
                            transport=network, retry=RetryPolicy(attempts=2, sleep=no_wait))
        opened.append(client)
        person = world.user(user)
        client.login(person.email, person.password, name)
        client.sync()
        return Device(client, FieldActions(client, now=now), network)

    yield open_device
    for client in opened:
        client.close()
