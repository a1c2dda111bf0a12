"""SyncClient as a field app uses it: sessions, status, progress, conflicts and rejections."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from client_sdk import NotLoggedIn, OfflineError, RetryPolicy, SyncClient
from sync.protocol import Status
from tests.client_sdk.conftest import SERVER_URL, no_wait

TOMORROW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_failed_sync_is_kept_in_status_until_the_next_one_succeeds(connect, world):
    rep = connect("rep_n")
    rep.field.plan_visit(world.ids["acc_n1"], TOMORROW)
    rep.offline()

    with pytest.raises(OfflineError):
        rep.client.sync()
    failed = rep.client.status()
    rep.online()
    rep.client.sync()
    synced = rep.client.status()

    assert (failed.pending, synced.pending) == (1, 0)
    assert "cannot reach the server" in failed.last_error
    assert synced.last_error is None
    assert synced.last_sync_at > failed.last_sync_at
    assert synced.last_sync_at.endswith("Z")


def test_logging_out_keeps_the_outbox_and_a_new_login_sends_it(connect, world):
    rep = connect("rep_n")
    visit_id = rep.field.plan_visit(world.ids["acc_n1"], TOMORROW)

    assert rep.client.logout() is True
    assert not rep.client.signed_in
    with pytest.raises(NotLoggedIn):
        rep.client.sync()
    assert rep.client.status().pending == 1

    person = world.user("rep_n")
    rep.client.login(person.email, person.password, "laptop")
    rep.client.sync()
    office = connect("office", "office-pc")
    assert office.client.get("visit", visit_id)["status"] == "planned"


def test_logging_out_offline_forgets_the_session_on_the_device(connect):
    rep = connect("rep_n")
    rep.offline()

    assert rep.client.logout() is False
    assert not rep.client.signed_in
    assert rep.client.server_url == SERVER_URL
    assert rep.client.user["role"] == "rep"  # who last signed in, for the next login


def test_a_long_first_download_reports_its_progress(app, world, tmp_path):
    from tests.client_sdk.conftest import Network

    client = SyncClient(tmp_path / "office.db", server_url=SERVER_URL, transport=Network(app),
                        retry=RetryPolicy(sleep=no_wait), pull_limit=4)
    office = world.user("office")
    client.login(office.email, office.password, "office-pc")
    seen: list[dict] = []
    try:
        client.sync(progress=seen.append)
        records = client.status().records
    finally:
        client.close()

    snapshot = [(s["snapshot_done"], s["snapshot_total"]) for s in seen
                if s["phase"] == "snapshot" and s["snapshot_total"]]
    assert len(snapshot) > 2
    assert {total for _, total in snapshot} == {records}
    assert [done for done, _ in snapshot] == sorted({done for done, _ in snapshot})
    assert [s["received"] for s in seen][-1] == records


def test_a_visit_the_office_cancels_while_the_rep_completes_it_is_a_conflict_the_app_hears_of(
        connect, world):
    rep, office = connect("rep_n"), connect("office", "office-pc")
    visit_id = rep.field.plan_visit(world.ids["acc_n1"], TOMORROW)
    rep.client.sync()
    office.client.sync()
    heard = []
    rep.client.on_conflict(heard.append)

    office.client.update("visit", visit_id, {"status": "cancelled"})
    office.client.sync()
    rep.field.complete_visit(visit_id, "Order taken")
    report = rep.client.sync()

    assert report.conflicts == 1
    assert [(r.status, r.conflicts[0].field, r.conflicts[0].result) for r in heard] == [
        (Status.CONFLICT, "status", "cancelled")]
    assert rep.client.get("visit", visit_id)["status"] == "cancelled"
    assert rep.client.get("visit", visit_id)["outcome"] == "Order taken"
    assert [c["detail"]["field"] for c in rep.client.conflicts()] == ["status"]


def test_a_line_for_a_product_the_office_delisted_meanwhile_is_rejected_and_kept_until_discarded(
        connect, world):
    ids = world.ids
    rep, office = connect("rep_n"), connect("office", "office-pc")
    price = office.client.query("price", product_id=ids["product2"])[0]
    office.client.delete("price", price["id"])
    office.client.sync()
    heard = []
    rep.client.on_rejection(heard.append)

    created = rep.field.create_order(ids["acc_n1"], [(ids["product1"], 1), (ids["product2"], 1)])
    report = rep.client.sync()

    assert (report.applied, report.rejected) == (2, 1)
    [rejection] = rep.client.rejected()
    assert (rejection["entity"], rejection["id"], rejection["code"]) == (
        "order_line", created.lines[1].line_id, "validation_failed")
    assert "product_id" in rejection["error_fields"]
    assert [r.mutation_id for r in heard] == [rejection["mutation_id"]]
    assert rep.client.get("order_line", created.lines[1].line_id) is None
    assert rep.client.discard_rejected(rejection["mutation_id"]) is True
    assert rep.client.rejected() == []


def test_a_background_sync_sends_what_the_app_writes_meanwhile(connect, world):
    rep = connect("rep_n")
    stop = rep.client.start_background_sync(interval=0.05)
    try:
        visit_id = rep.field.plan_visit(world.ids["acc_n1"], TOMORROW)
        deadline = time.monotonic() + 10
        while rep.client.status().pending and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        while rep.client.status().syncing:
            time.sleep(0.02)

    assert rep.client.status().pending == 0
    assert rep.client.store.version("visit", visit_id) == 1
