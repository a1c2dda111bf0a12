"""End-to-end fixtures: a real server process on its own database, and SDK devices using it.

`world` seeds the database through the engine before the server starts; `live_server` is
gunicorn on a free loopback port (see live_server.py); `connect("rep_n")` opens a signed-in,
synced device of a world user whose network a test can cut (see network.py). Each test gets
its own database (a SQLite file, or a PostgreSQL database with FIELDSYNC_TEST_DB=postgresql).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from client_sdk import RetryPolicy, SyncClient
from client_sdk.field import FieldActions
from server import create_app
from server.extensions import db
from sync.database import prepare_engine
from tests.conftest import TEST_CONFIG
from tests.databases import database_with_schema
from tests.e2e.live_server import LiveServer
from tests.e2e.network import Network
from tests.helpers import CreatedUser
from tests.world import World, build_world


def quick_retry(attempts: int = 3) -> RetryPolicy:
    """Real backoff with jitter, but short: a dead server is noticed in well under a second."""
    return RetryPolicy(attempts=attempts, base_delay=0.02, max_delay=0.1)


@dataclass
class Device:
    """One installation of a field app: its SDK client, field actions and network link."""

    name: str
    user: CreatedUser
    replica: Path
    client: SyncClient
    field: FieldActions
    network: Network

    @property
    def device_id(self) -> str:
        return self.client.session.device_id

    def offline(self) -> None:
        self.network.online = False

    def online(self) -> None:
        self.network.online = True


@pytest.fixture
def server_database(tmp_path_factory) -> Iterator[str]:
    """The test's own empty database, with the schema built from the models."""
    with database_with_schema(tmp_path_factory) as url:
        yield url


@pytest.fixture
def world(server_database) -> World:
    """The small test company, written through an app bound to the server's database."""
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": server_database}, env={})
    world = build_world(app)
    with app.app_context():
        db.engine.dispose()
    return world


@pytest.fixture
def server_engine(server_database) -> Iterator[sa.Engine]:
    """A direct connection to the server's database, to check what it really holds."""
    engine = prepare_engine(sa.create_engine(server_database))
    yield engine
    engine.dispose()


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra server environment; a test overrides it with @pytest.mark.parametrize."""
    return {}


@pytest.fixture
def live_server(server_database, world, server_env, tmp_path) -> Iterator[LiveServer]:
    """The server, started after the world was seeded; crashed (not stopped) at the end."""
    server = LiveServer(server_database, tmp_path / "server.log", env=server_env)
    server.start()
    yield server
    server.crash()
    # Shown by pytest only when the test failed.
    print(f"--- server log ---\n{server.log_tail()}")


@pytest.fixture
def connect(live_server, world, tmp_path) -> Iterator[Callable[..., Device]]:
    """connect("rep_n", "laptop") -> that user's device, signed in and synced once.

    Keyword options go to SyncClient (push_batch, pull_limit, retry...); sync=False skips
    the first sync.
    """
    opened: list[Device] = []

    def open_device(user: str, name: str = "laptop", *, sync: bool = True,
                    **options) -> Device:
        options.setdefault("retry", quick_retry())
        network, replica = Network(), tmp_path / f"{user}-{name}.sqlite"
        client = SyncClient(replica, server_url=live_server.url, transport=network,
                            timeout=30.0, **options)
        person = world.user(user)
        device = Device(name, person, replica, client, FieldActions(client), network)
        opened.append(device)
        client.login(person.email, person.password, name)
        if sync:
            client.sync()
        return device

    yield open_device
    for device in opened:
        device.client.close()
