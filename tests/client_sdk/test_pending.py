"""Pending changes can be listed, edited and dropped while they have never been sent (or the
server refused their request whole); a change in flight is left alone, since the server may
have applied it and answers a re-sent id from its receipt (finding 16.8: a pending change
could not be dropped)."""

from __future__ import annotations

import httpx
import pytest

from client_sdk import (
    ChangeInFlight,
    LocalValidationError,
    OfflineError,
    RetryPolicy,
    ServerError,
    SyncClient,
)

NO_RETRY = RetryPolicy(attempts=1, sleep=lambda seconds: None)


class LoseAnswers(httpx.BaseTransport):
    """Performs requests, but loses the answer of the next `drop` pushes: the connection
    breaks after the request was sent, as a dead zone does."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.drop = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.drop and request.url.path.endswith("/sync/push"):
            self.drop -= 1
            raise httpx.ReadError("connection reset (simulated)", request=request)
        return response


@pytest.fixture
def transport(app):
    return LoseAnswers(httpx.WSGITransport(app=app))


@pytest.fixture
def rep(app, world, tmp_path, transport):
    client = SyncClient(tmp_path / "rep.db", server_url="http://fieldsync.test",
                        transport=transport, retry=NO_RETRY)
    person = world.user("rep_n")
    client.login(person.email, person.password, "laptop")
    client.sync()
    yield client
    client.close()


def _visit(rep, world, **fields) -> str:
    return rep.create("visit", {"account_id": world.ids["acc_n1"],
                                "rep_id": world.user("rep_n").id, **fields})


def test_pending_changes_are_listed_oldest_first_none_in_flight(rep, world):
    visit = _visit(rep, world, notes="a")
    rep.update("account", world.ids["acc_n1"], {"phone": "555"})
    changes = rep.pending_changes()
    assert [(c.mutation.entity, str(c.mutation.op)) for c in changes] == [
        ("visit", "create"), ("account", "update")]
    assert changes[0].mutation.record_id == visit
    assert not any(c.in_flight for c in changes)
    assert changes[1].to_dict()["fields"] == {"phone": "555"}


def test_an_edited_create_is_pushed_as_edited(rep, world):
    visit = _visit(rep, world, notes="draft")
    [change] = rep.pending()
    rep.edit_pending(change.mutation_id, {"notes": "final", "outcome": "ordered"})
    assert rep.get("visit", visit)["notes"] == "final"
    rep.sync()
    assert rep.get("visit", visit)["notes"] == "final"
    assert rep.get("visit", visit)["outcome"] == "ordered"


def test_an_edited_update_takes_the_base_of_a_field_it_adds(rep, world):
    account = world.ids["acc_n1"]
    rep.update("account", account, {"phone": "555"})
    [change] = rep.pending()
    edited = rep.edit_pending(change.mutation_id, {"city": "Nordstadt"})
    assert edited.fields == {"phone": "555", "city": "Nordstadt"}
    assert edited.base == {"phone": None, "city": None}
    report = rep.sync()
    assert report.applied == 1
    assert rep.get("account", account)["city"] == "Nordstadt"


def test_an_edit_is_checked_against_the_servers_rules(rep, world):
    _visit(rep, world, notes="draft")
    [change] = rep.pending()
    with pytest.raises(LocalValidationError):
        rep.edit_pending(change.mutation_id, {"notes": "x" * 10_001})
    assert rep.pending()[0].fields["notes"] == "draft"


def test_dropping_an_update_gives_back_the_servers_value(rep, world):
    account = world.ids["acc_n1"]
    before = rep.get("account", account)
    rep.update("account", account, {"name": "Typo"})
    rep.update("account", account, {"phone": "555"})
    first = rep.pending()[0].mutation_id
    assert rep.drop_pending(first) == [first]
    assert rep.get("account", account) == {**before, "phone": "555"}
    rep.sync()
    assert rep.get("account", account)["name"] == before["name"]


def test_dropping_a_create_drops_the_records_later_changes_and_its_view(rep, world):
    visit = _visit(rep, world, notes="a")
    rep.update("visit", visit, {"notes": "b"})
    other = _visit(rep, world, notes="kept")
    ids = [m.mutation_id for m in rep.pending()]
    assert rep.drop_pending(ids[0]) == ids[:2]
    assert rep.get("visit", visit) is None
    assert [m.record_id for m in rep.pending()] == [other]
    assert visit not in {v["id"] for v in rep.query("visit")}
    assert rep.sync().applied == 1


def test_a_change_in_flight_can_be_neither_edited_nor_dropped(rep, world, transport):
    _visit(rep, world, notes="sent")
    [change] = rep.pending()
    transport.drop = 1  # applied, its answer lost
    with pytest.raises(OfflineError):
        rep.sync()
    [listed] = rep.pending_changes()
    assert listed.in_flight
    with pytest.raises(ChangeInFlight):
        rep.edit_pending(change.mutation_id, {"notes": "changed"})
    with pytest.raises(ChangeInFlight):
        rep.drop_pending(change.mutation_id)
    later = _visit(rep, world, notes="later")  # a change made afterwards is free
    assert not rep.pending_changes()[1].in_flight
    rep.drop_pending(rep.pending()[1].mutation_id)
    rep.sync()
    assert rep.pending() == [] and rep.get("visit", later) is None


def test_a_change_never_sent_because_the_device_was_offline_stays_editable(rep, world,
                                                                            transport):
    _visit(rep, world, notes="draft")
    transport.inner = httpx.MockTransport(_offline)
    with pytest.raises(OfflineError):
        rep.sync()
    [change] = rep.pending_changes()
    assert not change.in_flight  # no connection was made: the request never left
    rep.edit_pending(change.mutation.mutation_id, {"notes": "final"})


def test_a_new_change_whose_request_was_refused_whole_is_free_again(rep, world, transport):
    _visit(rep, world, notes="draft")
    transport.inner = httpx.MockTransport(_refused)
    with pytest.raises(ServerError):
        rep.sync()
    [change] = rep.pending_changes()
    assert not change.in_flight  # a 4xx answer changed nothing on the server
    rep.drop_pending(change.mutation.mutation_id)
    assert rep.pending() == []


def test_a_change_in_doubt_stays_in_flight_when_its_resend_is_refused(rep, world, transport):
    _visit(rep, world, notes="draft")
    transport.drop = 1
    with pytest.raises(OfflineError):
        rep.sync()
    transport.inner = httpx.MockTransport(_refused)
    with pytest.raises(ServerError):
        rep.sync()
    [change] = rep.pending_changes()
    assert change.in_flight  # the refusal proves nothing of the first, lost answer
    with pytest.raises(ChangeInFlight):
        rep.drop_pending(change.mutation.mutation_id)


def _offline(request):
    raise httpx.ConnectError("no network", request=request)


def _refused(request):
    return httpx.Response(401, json={"error": {"code": "device_revoked", "message": "revoked",
                                               "fields": {}}})


class EditWhileSending(httpx.BaseTransport):
    """Before the first push reaches the app, tries `attempt()` and notes what it raised."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.attempts, self.outcomes = inner, [], []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sync/push") and self.attempts:
            for attempt in self.attempts:
                try:
                    attempt()
                    self.outcomes.append("done")
                except ChangeInFlight:
                    self.outcomes.append("in flight")
            self.attempts = []
        return self.inner.handle_request(request)


def test_a_change_read_for_sending_cannot_be_edited_and_one_not_read_yet_can(app, world,
                                                                            tmp_path):
    transport = EditWhileSending(httpx.WSGITransport(app=app))
    rep = SyncClient(tmp_path / "rep.db", server_url="http://fieldsync.test",
                     transport=transport, retry=NO_RETRY, push_batch=1)
    person = world.user("rep_n")
    rep.login(person.email, person.password, "laptop")
    first, second = _visit(rep, world, notes="one"), _visit(rep, world, notes="two")
    ids = [m.mutation_id for m in rep.pending()]
    transport.attempts = [lambda: rep.edit_pending(ids[0], {"notes": "late"}),
                          lambda: rep.edit_pending(ids[1], {"notes": "edited in time"})]
    rep.sync()
    assert transport.outcomes == ["in flight", "done"]
    assert rep.get("visit", first)["notes"] == "one"
    assert rep.get("visit", second)["notes"] == "edited in time"
    rep.close()


def test_dropping_a_delete_brings_the_record_back(rep, world):
    contact = world.ids["contact_n1"]
    rep.delete("contact", contact)
    assert rep.get("contact", contact) is None
    rep.drop_pending(rep.pending()[0].mutation_id)
    assert rep.get("contact", contact)["first_name"] == "Ana"
    assert rep.sync().pushed == 0
