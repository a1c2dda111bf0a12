"""The SDK's sync core against the app in-process: rebase, lost responses, resets, refresh."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from client_sdk import OfflineError, RetryPolicy, SyncClient
from client_sdk.syncer import Syncer, SyncReport
from server.extensions import db
from server.models import SYNC_TABLES
from sync import changelog
from sync.database import write_transaction
from sync.sqltypes import utcnow
from tests.helpers import bearer, login
from tests.world import build_world

NO_RETRY = RetryPolicy(attempts=1, sleep=lambda seconds: None)


class DropResponses(httpx.BaseTransport):
    """Performs requests, but loses the answer of the next `drop` requests to `path` (after
    letting `skip` of them through)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.drop, self.path, self.skip = inner, 0, "", 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.drop and request.url.path.endswith(self.path):
            if self.skip:
                self.skip -= 1
                return response
            self.drop -= 1
            response.read()
            raise httpx.ConnectError("connection reset (simulated)")
        return response


@pytest.fixture
def world(app):
    return build_world(app)


def device(app, tmp_path, user, name="laptop", transport=None, retry=NO_RETRY) -> SyncClient:
    client = SyncClient(tmp_path / f"{name}.db", server_url="http://fieldsync.test",
                        transport=transport or httpx.WSGITransport(app=app), retry=retry)
    client.login(user.email, user.password, name)
    return client


def office_patch(client, world, entity, record_id, fields):
    token = login(client, world.user("office").email, device="office-pc")["access_token"]
    response = client.patch(f"/api/v1/records/{entity}/{record_id}", json=fields,
                            headers=bearer(token))
    assert response.status_code == 200, response.get_json()


def test_a_local_edit_is_rebased_on_a_newer_server_version_not_clobbered(
        app, client, world, tmp_path):
    rep = device(app, tmp_path, world.user("rep_n"))
    rep.sync()
    rep.update("account", world.ids["acc_n1"], {"city": "Kiel"})
    office_patch(client, world, "account", world.ids["acc_n1"], {"name": "Café Nord GmbH"})
    syncer = Syncer(rep.store, rep._api, rep.session, rep._clock, retry=NO_RETRY,
                    push_batch=100, pull_limit=100)
    syncer.pull(SyncReport(), None)  # pull only: the edit is still in the outbox
    view = rep.get("account", world.ids["acc_n1"])
    assert (view["name"], view["city"]) == ("Café Nord GmbH", "Kiel")
    assert rep.status().pending == 1
    rep.sync()
    assert rep.status().pending == 0
    view = rep.get("account", world.ids["acc_n1"])
    assert (view["name"], view["city"]) == ("Café Nord GmbH", "Kiel")
    assert rep.store.version("account", world.ids["acc_n1"]) == 3


def test_a_lost_push_response_keeps_the_outbox_and_the_retry_applies_once(
        app, world, tmp_path):
    transport = DropResponses(httpx.WSGITransport(app=app))
    rep = device(app, tmp_path, world.user("rep_n"), transport=transport)
    rep.sync()
    visit = rep.create("visit", {"account_id": world.ids["acc_n1"],
                                 "rep_id": world.user("rep_n").id})
    transport.drop, transport.path = 1, "/sync/push"
    with pytest.raises(OfflineError):
        rep.sync()
    assert [m.record_id for m in rep.pending()] == [visit]
    report = rep.sync()
    assert report.pushed == 1 and rep.status().pending == 0
    with app.app_context():
        rows = db.session.execute(SYNC_TABLES.change.select().where(
            SYNC_TABLES.change.c.record_id == visit)).all()
    assert len(rows) == 1
    assert rep.store.version("visit", visit) == 1


def test_a_lost_pull_response_loses_nothing(app, client, world, tmp_path):
    transport = DropResponses(httpx.WSGITransport(app=app))
    rep = device(app, tmp_path, world.user("rep_n"), transport=transport)
    rep.sync()
    office_patch(client, world, "account", world.ids["acc_n2"], {"city": "Flensburg"})
    transport.drop, transport.path = 1, "/sync/pull"
    with pytest.raises(OfflineError):
        rep.sync()
    rep.sync()
    assert rep.get("account", world.ids["acc_n2"])["city"] == "Flensburg"


def test_a_page_lost_mid_download_keeps_the_pages_before_it_and_the_next_sync_completes(
        app, world, tmp_path):
    # The SDK asks for the next page while it applies the last one: losing that request
    # must leave exactly the pages before it stored, as a one-page-at-a-time loop would.
    reference = device(app, tmp_path, world.user("rep_n"), name="reference")
    reference.sync()
    transport = DropResponses(httpx.WSGITransport(app=app))
    rep = SyncClient(tmp_path / "rep.db", server_url="http://fieldsync.test",
                     transport=transport, retry=NO_RETRY, pull_limit=2)
    rep.login(world.user("rep_n").email, world.user("rep_n").password, "rep")
    transport.drop, transport.path, transport.skip = 1, "/sync/pull", 2
    with pytest.raises(OfflineError):
        rep.sync()
    kept, expected = rep.store.all_views(), reference.store.all_views()
    assert len(kept) == 4 and kept.items() <= expected.items()
    assert rep.status().last_sync_at is None
    rep.sync()
    assert rep.store.all_views() == expected
    assert rep.status().last_sync_at is not None and rep.status().last_error is None


def test_a_reset_downloads_the_scope_again_and_keeps_the_outbox(app, client, world, tmp_path):
    rep = device(app, tmp_path, world.user("rep_n"))
    rep.sync()
    rep.update("contact", world.ids["contact_n1"], {"title": "Owner"})
    office_patch(client, world, "account", world.ids["acc_n2"], {"city": "Husum"})
    with app.app_context(), write_transaction(db.engine) as conn:
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() + timedelta(seconds=1))
    syncer = Syncer(rep.store, rep._api, rep.session, rep._clock, retry=NO_RETRY,
                    push_batch=100, pull_limit=100)
    report = SyncReport()
    syncer.pull(report, None)
    assert report.reset is True
    assert rep.status().pending == 1
    assert rep.get("contact", world.ids["contact_n1"])["title"] == "Owner"
    assert rep.get("account", world.ids["acc_n2"])["city"] == "Husum"
    rep.sync()
    assert rep.status().pending == 0


def test_an_expired_access_token_is_refreshed_transparently(app, world, tmp_path):
    rep = device(app, tmp_path, world.user("rep_n"))
    with rep.store.transaction() as store_db:
        rep.store.set_meta(store_db, access_expires_at="0")
    old_refresh = rep.store.meta("refresh_token")
    rep.sync()
    assert rep.store.meta("refresh_token") != old_refresh
    assert rep.status().records > 0


def test_conflicts_and_rejections_reach_the_app_and_rejections_stay_until_discarded(
        app, client, world, tmp_path):
    tech = device(app, tmp_path, world.user("tech_a"))
    tech.sync()
    seen = {"conflict": [], "rejection": []}
    tech.on_conflict(lambda r: seen["conflict"].append(r))
    tech.on_rejection(lambda r: seen["rejection"].append(r))
    tech.update("work_order", world.ids["wo_a"], {"status": "in_progress"})
    tech.update("work_order", world.ids["wo_a"], {"title": "not mine to change"})
    office_patch(client, world, "work_order", world.ids["wo_a"], {"status": "on_hold"})
    tech.sync()
    assert [r.conflicts[0].result for r in seen["conflict"]] == ["in_progress"]
    assert [r.error.code for r in seen["rejection"]] == ["forbidden"]
    assert tech.get("work_order", world.ids["wo_a"])["status"] == "in_progress"
    assert tech.get("work_order", world.ids["wo_a"])["title"] == "Descale"
    [rejected] = tech.rejected()
    assert rejected["fields"] == {"title": "not mine to change"}
    tech.sync()
    assert len(tech.rejected()) == 1
    assert tech.discard_rejected(rejected["mutation_id"]) is True
    assert tech.rejected() == []


def test_writes_made_before_a_crash_are_in_the_outbox_when_the_replica_reopens(
        app, world, tmp_path):
    rep = device(app, tmp_path, world.user("rep_n"))
    rep.sync()
    visit = rep.create("visit", {"account_id": world.ids["acc_n1"],
                                 "rep_id": world.user("rep_n").id})
    rep.store._db.close()  # no clean shutdown: the process just stops
    reopened = SyncClient(tmp_path / "laptop.db", transport=httpx.WSGITransport(app=app),
                          retry=NO_RETRY)
    assert [m.record_id for m in reopened.pending()] == [visit]
    assert reopened.get("visit", visit)["account_id"] == world.ids["acc_n1"]
    reopened.sync()
    assert reopened.store.version("visit", visit) == 1


def test_writes_inside_atomic_commit_together_or_not_at_all(app, world, tmp_path):
    rep = device(app, tmp_path, world.user("rep_n"))
    rep.sync()
    with pytest.raises(RuntimeError), rep.atomic():
        rep.update("account", world.ids["acc_n1"], {"city": "Kiel"})
        rep.create("visit", {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id})
        raise RuntimeError("the battery died")
    assert rep.pending() == []
    assert rep.get("account", world.ids["acc_n1"])["city"] is None
    with rep.atomic():
        rep.update("account", world.ids["acc_n1"], {"city": "Kiel"})
        rep.create("visit", {"account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id})
    assert [m.mutation_id for m in rep.pending()] == [1, 2]
