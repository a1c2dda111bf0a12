"""What reaches the disk when: local writes commit without a sync of their own, but nothing
the server sees (an outbox entry, a mutation id) and no new token can be undone by a power
loss afterwards."""

from __future__ import annotations

import httpx
import pytest

from client_sdk import RetryPolicy, SyncClient
from client_sdk.store import LocalStore
from tests.client_sdk.conftest import SERVER_URL, no_wait


class Journal(httpx.BaseTransport):
    """The app over WSGI, noting each push it forwards in a shared event list."""

    def __init__(self, app, events: list[str]):
        self.app, self.events = httpx.WSGITransport(app=app), events

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sync/push"):
            self.events.append("push")
        return self.app.handle_request(request)


@pytest.fixture
def events(monkeypatch) -> list[str]:
    """Every forced sync to disk ("durable") and every push, in order."""
    noted: list[str] = []
    make_durable = LocalStore.make_durable

    def noting(store: LocalStore) -> None:
        noted.append("durable")
        make_durable(store)

    monkeypatch.setattr(LocalStore, "make_durable", noting)
    return noted


def visit(world) -> dict[str, str]:
    return {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id}


def test_the_outbox_is_forced_to_disk_once_before_the_server_sees_any_of_it(
        app, world, tmp_path, events):
    person = world.user("rep_n")
    rep = SyncClient(tmp_path / "rep.db", server_url=SERVER_URL, transport=Journal(app, events),
                     retry=RetryPolicy(attempts=1, sleep=no_wait), push_batch=2)
    rep.login(person.email, person.password, "laptop")
    assert events == ["durable"]  # the tokens

    events.clear()
    for _ in range(5):
        rep.create("visit", visit(world))
    assert events == []
    assert rep.sync().applied == 5
    assert events == ["durable", "push", "push", "push"]

    events.clear()
    rep.create("visit", visit(world))
    rep.sync()
    assert events == ["durable", "push"]
    rep.close()


def test_a_sync_with_nothing_to_push_forces_nothing_to_disk(connect, events):
    rep = connect("rep_n")
    events.clear()
    rep.client.sync()
    assert events == []


@pytest.mark.parametrize(("asked", "level"), [({}, 1), ({"synchronous": "FULL"}, 2)])
def test_the_replica_syncs_each_commit_only_when_asked_to(tmp_path, asked, level):
    store = LocalStore(tmp_path / "replica.db", **asked)
    with store.transaction() as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == level
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.make_durable()
    with store.transaction() as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == level
    store.close()


def test_a_durable_request_inside_a_transaction_is_kept_when_it_commits(tmp_path):
    store = LocalStore(tmp_path / "replica.db")
    with store.transaction() as db:
        store.set_meta(db, next_mutation_id="8")
        store.make_outbox_durable(7)
        assert store.meta("durable_at") is None
    assert store.meta("durable_at") is not None
    store.close()


def test_an_unknown_synchronous_setting_is_refused(tmp_path):
    with pytest.raises(ValueError, match="NORMAL or FULL"):
        LocalStore(tmp_path / "replica.db", synchronous="OFF")
