"""A device learns on its next sync that the back office settled a conflict it shows as open,
and its app and CLI then show it settled (issue 16, finding 10)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from client_sdk.cli import cli
from client_sdk.cli_context import CliContext
from tests.client_sdk.conftest import SERVER_URL, Network
from tests.helpers import bearer, login


def open_notes_conflict(connect, world):
    """The office and the rep both edit an account's notes (manual policy): left open."""
    rep, office = connect("rep_n"), connect("office", "office-pc")
    office.client.update("account", world.ids["acc_n1"], {"notes": "office"})
    office.client.sync()
    rep.client.update("account", world.ids["acc_n1"], {"notes": "rep"})
    assert rep.client.sync().conflicts == 1
    [conflict] = rep.client.conflicts(only_open=True)
    return rep, conflict


def override_as_office(app, world, record_id: str, **body) -> dict:
    http = app.test_client()
    token = login(http, world.user("office").email, device="office-web")["access_token"]
    [conflict] = http.get(f"/api/v1/conflicts?status=open&record_id={record_id}",
                          headers=bearer(token)).get_json()["items"]
    response = http.post(f"/api/v1/conflicts/{conflict['id']}/override", json=body,
                         headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_device_learns_that_the_back_office_settled_its_open_conflict(app, connect, world):
    rep, _ = open_notes_conflict(connect, world)
    override_as_office(app, world, world.ids["acc_n1"], choose="device")

    report = rep.client.sync()

    assert report.conflicts_closed == 1
    assert rep.client.conflicts(only_open=True) == []
    assert rep.client.status().open_conflicts == 0
    [settled] = rep.client.conflicts()
    assert (settled["open"], settled["detail"]["status"], settled["detail"]["result"]) == (
        0, "overridden", "rep")
    assert rep.client.get("account", world.ids["acc_n1"])["notes"] == "rep"


def test_a_sync_with_no_open_conflict_asks_nothing_about_conflicts(app, connect, world):
    rep = connect("rep_n")
    sent = []
    original = rep.network.handle_request

    def spy(request):
        sent.append(request.url.path)
        return original(request)

    rep.network.handle_request = spy
    rep.client.sync()
    assert not [path for path in sent if path.endswith("/conflicts")]


def test_the_cli_shows_a_settled_conflict_as_overridden(app, connect, world, tmp_path):
    rep, _ = open_notes_conflict(connect, world)
    override_as_office(app, world, world.ids["acc_n1"], choose="current")
    replica = tmp_path / "rep_n-laptop.db"  # where the connect fixture keeps it
    rep.client.close()
    context = CliContext(transport=Network(app))
    synced = CliRunner().invoke(cli, ["--data", str(replica), "--retries", "1", "sync"],
                                obj=context)
    assert "The back office settled 1 open conflict" in synced.output, synced.output
    listed = CliRunner().invoke(cli, ["--data", str(replica), "conflicts", "--json"],
                                obj=CliContext(transport=Network(app)))
    [conflict] = json.loads(listed.stdout)
    assert conflict["detail"]["status"] == "overridden"
    table = CliRunner().invoke(cli, ["--data", str(replica), "conflicts"],
                               obj=CliContext(transport=Network(app))).stdout
    assert "overridden" in table and SERVER_URL not in table
