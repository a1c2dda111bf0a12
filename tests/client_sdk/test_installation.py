"""One identity per installation, end to end: the SDK names its replica's installation at
sign-in, so two replicas never share a device, and a replica signing in again after its
device was revoked is answered from its receipts for a push in doubt (docs/protocol.md §9)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from client_sdk import FieldsyncError, OfflineError, RetryPolicy, ServerError, SyncClient
from client_sdk.field import FieldActions
from server.auth.devices import revoke_device
from server.extensions import db
from server.models import Device, PartUsed, VanStock, Visit
from tests.client_sdk.conftest import SERVER_URL, no_wait


class LossyNetwork(httpx.BaseTransport):
    """The app over WSGI. `lose_push` delivers the next push and loses its answer, then
    cuts the line: the device cannot tell whether the server has it (in doubt)."""

    def __init__(self, app):
        self.app = httpx.WSGITransport(app=app)
        self.online, self.lose_push = True, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.online:
            raise httpx.ConnectError("no network", request=request)
        response = self.app.handle_request(request)
        if self.lose_push and request.url.path.endswith("/sync/push"):
            self.lose_push, self.online = False, False
            raise httpx.ReadError("connection reset", request=request)
        return response


def replica(app, tmp_path, name: str) -> tuple[SyncClient, LossyNetwork]:
    network = LossyNetwork(app)
    return SyncClient(tmp_path / f"{name}.db", server_url=SERVER_URL, transport=network,
                      retry=RetryPolicy(attempts=2, sleep=no_wait)), network


def server_row(app, model, record_id: str):
    with app.app_context():
        return db.session.get(model, record_id)


def test_a_push_in_doubt_when_the_device_is_revoked_is_applied_once_after_signing_in_again(
        app, world, tmp_path):
    tech = world.user("tech_a")
    client, network = replica(app, tmp_path, "tablet")
    client.login(tech.email, tech.password, "Tech's tablet")
    client.sync()
    used = FieldActions(client).use_part(world.ids["wo_a"], world.ids["part1"], 3)

    network.lose_push = True  # the server applies the use; the device never hears of it
    with pytest.raises(OfflineError):
        client.sync()
    assert server_row(app, VanStock, world.ids["van_a"]).quantity == 7
    with app.app_context():
        device = db.session.get(Device, client.session.device_id)
        revoke_device(db.session, device, now=datetime.now(UTC))
        db.session.commit()
    network.online = True
    with pytest.raises(FieldsyncError):
        client.sync()  # device_revoked: the user must sign in again
    with pytest.raises(ServerError) as refused:
        client.login(tech.email, tech.password, "Tech's tablet")
    assert refused.value.code == "device_name_revoked"  # a revoked name stays revoked

    client.login(tech.email, tech.password, "Tech's tablet, again")
    report = client.sync()

    assert (report.pushed, report.applied, report.rejected) == (2, 2, 0)
    assert client.pending() == [] and client.rejected() == []
    assert server_row(app, VanStock, world.ids["van_a"]).quantity == 7  # not 4
    assert client.get("van_stock", world.ids["van_a"])["quantity"] == 7
    assert server_row(app, PartUsed, used).quantity == 3
    client.close()


def test_two_replicas_signing_in_under_one_device_name_both_get_their_changes_applied(
        app, world, tmp_path):
    # The README's SDK example and its CLI walkthrough both sign in as "Tara's laptop".
    rep = world.user("rep_n")
    visits = []
    for name in ("sdk", "cli"):
        client, _ = replica(app, tmp_path, name)
        client.login(rep.email, rep.password, "Tara's laptop")
        client.sync()
        visits.append(client.create("visit", {"account_id": world.ids["acc_n1"],
                                              "rep_id": rep.id, "notes": name}))
        report = client.sync()
        assert (report.pushed, report.applied) == (1, 1)
        assert client.status().pending == 0
        visits[-1] = (visits[-1], client.session.device_id,
                      client.store.meta("device_name"))
        client.close()

    (sdk_visit, sdk_device, sdk_name), (cli_visit, cli_device, cli_name) = visits
    assert server_row(app, Visit, sdk_visit).notes == "sdk"
    assert server_row(app, Visit, cli_visit).notes == "cli"
    assert sdk_device != cli_device
    assert (sdk_name, cli_name) == ("Tara's laptop", "Tara's laptop (2)")


def test_a_replica_makes_its_installation_id_once_and_signs_in_with_it(app, world, tmp_path):
    rep = world.user("rep_n")
    client, _ = replica(app, tmp_path, "laptop")
    client.login(rep.email, rep.password, "laptop")
    installation = client.store.meta("installation_id")
    client.close()

    reopened, _ = replica(app, tmp_path, "laptop")
    assert reopened.store.installation_id() == installation
    reopened.login(rep.email, rep.password, "another name")
    assert reopened.store.meta("device_name") == "laptop"  # the installation's device

    assert server_row(app, Device, reopened.session.device_id).installation_id == installation
    reopened.close()
