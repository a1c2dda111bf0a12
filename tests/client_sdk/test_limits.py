"""Finding 16.8: one oversized change blocked the outbox for good. A 12 MB visit note was
accepted offline, every sync after failed whole with `payload_too_large`, nothing behind it
was sent, and the message did not say which change was at fault.

Now the SDK checks the server's published field rules before queueing, never builds a push
body over the server's limit, and rejects, with its mutation id, a change that no request
can carry, so the changes behind it are sent."""

from __future__ import annotations

import httpx
import pytest

from client_sdk import LocalValidationError, RetryPolicy, SyncClient
from client_sdk.limits import FieldRules
from tests.conftest import app_on
from tests.world import build_world

SMALL = 16 * 1024  # the server's MAX_CONTENT_LENGTH in these tests
NO_RETRY = RetryPolicy(attempts=1, sleep=lambda seconds: None)


@pytest.fixture
def app(database_url):
    with app_on(database_url, MAX_CONTENT_LENGTH=SMALL) as app:
        yield app


@pytest.fixture
def world(app):
    return build_world(app)


class Counting(httpx.BaseTransport):
    """The app over WSGI, noting each push body's size and answer status."""

    def __init__(self, app):
        self.inner, self.pushes = httpx.WSGITransport(app=app), []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/sync/push"):
            self.pushes.append((len(request.content), response.status_code))
        return response


@pytest.fixture
def rep(app, world, tmp_path):
    transport = Counting(app)
    client = SyncClient(tmp_path / "rep.db", server_url="http://fieldsync.test",
                        transport=transport, retry=NO_RETRY)
    person = world.user("rep_n")
    client.login(person.email, person.password, "laptop")
    client.sync()
    client.transport = transport
    yield client
    client.close()


def _visit(rep, world, notes: str) -> str:
    return rep.create("visit", {"account_id": world.ids["acc_n1"],
                                "rep_id": world.user("rep_n").id, "notes": notes})


def test_a_note_over_the_published_limit_is_refused_before_it_is_queued(rep, world):
    with pytest.raises(LocalValidationError) as refused:
        _visit(rep, world, "x" * 10_001)
    assert list(refused.value.fields) == ["notes"]
    assert rep.pending() == []
    with pytest.raises(LocalValidationError) as refused:
        rep.create("account", {"territory_id": world.territories["N"], "name": "A",
                               "country": "de"})
    assert "two uppercase letters" in refused.value.fields["country"][0]


def test_the_rules_hold_offline_from_the_copy_the_replica_keeps(rep, world, tmp_path):
    rep.close()
    reopened = SyncClient(tmp_path / "rep.db", transport=httpx.MockTransport(_offline))
    with pytest.raises(LocalValidationError):
        _visit(reopened, world, "x" * 10_001)
    reopened.close()


def _offline(request):
    raise httpx.ConnectError("no network", request=request)


def _forget_rules(rep: SyncClient) -> None:
    """A replica queued by an SDK that did not check: as if the rules were never fetched."""
    rep._rules = FieldRules()


def test_an_oversized_change_is_rejected_with_its_id_and_the_changes_behind_it_are_sent(
        rep, world):
    _forget_rules(rep)
    first = _visit(rep, world, "before")
    huge = _visit(rep, world, "x" * 12_000_000)
    after = _visit(rep, world, "after")
    rejections = []
    rep.on_rejection(rejections.append)
    rep._rules = None  # the sync fetches nothing new: the replica keeps the server's limits
    report = rep.sync()
    assert report.rejected == 1 and report.applied == 2
    [rejected] = rep.rejected()
    assert rejected["code"] == "mutation_too_large" and rejected["id"] == huge
    assert [r.mutation_id for r in rejections] == [rejected["mutation_id"]]
    assert rep.pending() == [] and rep.get("visit", huge) is None
    assert rep.get("visit", first)["notes"] == "before" and rep.get("visit", after)
    assert all(size <= SMALL and status == 200 for size, status in rep.transport.pushes)


def test_a_change_the_server_refuses_alone_as_too_large_is_rejected_and_not_retried(
        rep, world):
    """The SDK believes the server takes 10 MiB (its default): the server's 413 teaches it."""
    _forget_rules(rep)
    rep.store._db.execute("DELETE FROM meta WHERE key = 'field_rules'")
    kept = [_visit(rep, world, f"small {n}") for n in range(3)]
    huge = _visit(rep, world, "é" * 10_000)  # within the field's limit, over the body's
    kept.append(_visit(rep, world, "last"))
    rep._learn_rules = lambda: None  # the replica cannot fetch the limits
    report = rep.sync()
    assert [r["id"] for r in rep.rejected()] == [huge]
    assert report.applied == 4 and rep.pending() == []
    assert all(rep.get("visit", record_id) for record_id in kept)
    statuses = [status for _, status in rep.transport.pushes]
    assert statuses.count(413) >= 1 and statuses[-1] == 200
    rep.sync()  # and the next sync sends nothing of it again
    assert [status for _, status in rep.transport.pushes[len(statuses):]] == []


def test_batches_are_split_by_bytes_under_the_servers_limit(rep, world):
    ids = [_visit(rep, world, "n" * 3_000) for _ in range(20)]  # 60 KB: four requests at least
    report = rep.sync()
    assert report.applied == 20 and rep.rejected() == []
    assert len(rep.transport.pushes) >= 60_000 // SMALL
    assert all(size <= SMALL and status == 200 for size, status in rep.transport.pushes)
    assert all(rep.get("visit", record_id) for record_id in ids)


def test_a_sync_fetches_the_rules_again_once_a_day(rep, world):
    rep.store.set_meta(rep.store._db, field_rules_at="2020-01-01T00:00:00Z",
                       field_rules='{"entities": []}')
    rep._rules = None
    _visit(rep, world, "x" * 10_001)  # the stale copy knows no limits
    rep.drop_pending(rep.pending()[0].mutation_id)
    rep.sync()
    with pytest.raises(LocalValidationError):
        _visit(rep, world, "x" * 10_001)
