"""`fieldsync-client` driven through click's CliRunner against the app in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from client_sdk.cli import cli
from client_sdk.cli_context import OFFLINE, CliContext, default_data_path
from tests.client_sdk.conftest import SERVER_URL, Network

UNREACHABLE = "http://127.0.0.1:9"

Run = Callable[..., Result]


@pytest.fixture
def run(app, tmp_path) -> Run:
    """run(*args, user=..., input=...): one command on a replica file per user."""
    network = Network(app)

    def invoke(*args: str, user: str = "rep_n", input: str | None = None,
               config: CliContext | None = None) -> Result:
        replica = tmp_path / f"{user}.db"
        return CliRunner().invoke(cli, ["--data", str(replica), "--retries", "1", *args],
                                  input=input, obj=config or CliContext(transport=network))

    return invoke


@pytest.fixture
def sign_in(run, world) -> Callable[..., Result]:
    """sign_in("rep_n") logs that world user in on their replica and syncs it."""

    def login(user: str = "rep_n", server: str = SERVER_URL, *, sync: bool = True) -> Result:
        person = world.user(user)
        result = run("login", "--server", server, "--email", person.email, "--device",
                     f"{user}-laptop", "--password-stdin", user=user, input=person.password)
        ok(result)
        if sync:
            ok(run("sync", user=user))
        return result

    return login


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def refused(result: Result, message: str, exit_code: int) -> None:
    assert result.exit_code == exit_code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    if exit_code != 2:  # click's usage errors come with a usage line
        assert len(result.stderr.strip().splitlines()) == 1


def as_json(result: Result):
    return json.loads(ok(result).stdout)


def test_login_reads_the_password_from_stdin_and_status_says_who_is_signed_in(run, sign_in,
                                                                               world):
    result = sign_in("rep_n", sync=False)

    rep = world.user("rep_n")
    assert f"Signed in to {SERVER_URL} as rep_n <{rep.email}> (rep)" in result.stdout
    status = ok(run("status")).stdout
    assert f"Signed in:        rep_n <{rep.email}> (rep) on 'rep_n-laptop'" in status
    assert "Last sync:        never" in status
    info = as_json(run("status", "--json"))
    assert (info["signed_in"], info["user"]["id"], info["pending"]) == (True, rep.id, 0)


def test_a_wrong_password_is_refused_in_one_line(run, world):
    result = run("login", "--server", SERVER_URL, "--email", world.user("rep_n").email,
                 "--password-stdin", input="wrong password")

    refused(result, "sign-in refused", 1)
    assert "invalid_credentials" in result.stderr


def test_sync_summarises_and_list_and_show_read_the_replica(run, sign_in, world):
    sign_in("rep_n", sync=False)

    assert "Pushed 0 changes: 0 applied, 0 with conflicts, 0 rejected. Pulled 11 records." in (
        ok(run("sync")).stdout)
    table = ok(run("list", "account")).stdout
    assert table.splitlines()[0].split() == ["ID", "NAME", "CITY", "STATUS", "PHONE"]
    assert world.ids["acc_n1"][:8] in table and world.ids["acc_n1"] not in table
    assert "Bar Sud" not in table  # territory S is not this rep's
    only = as_json(run("list", "account", "--where", "name=Café Nord", "--json"))
    assert [a["id"] for a in only] == [world.ids["acc_n1"]]
    shown = ok(run("show", "account", world.ids["acc_n1"][:8])).stdout
    assert "name:           Café Nord" in shown
    assert as_json(run("show", "account", world.ids["acc_n1"], "--json"))["name"] == "Café Nord"
    refused(run("show", "account", "nobody"), "no account 'nobody' here", 1)
    refused(run("list", "invoice"), "'invoice' is not an entity", 2)


def test_a_rep_takes_an_order_at_a_new_customer_from_the_command_line(run, sign_in, connect):
    sign_in("rep_n")

    created = ok(run("account", "create", "--territory", "N", "--name", "Café Neu", "--city",
                     "Hamburg", "--line", "P-1:3:10", "--line", "P-2:1")).stdout
    assert "Total: 196.23 (priced here; the server's price is final)" in created
    assert "5 changes to sync." in created
    new = as_json(run("status", "--json"))
    assert new["pending"] == 5
    assert "Pushed 5 changes: 5 applied" in ok(run("sync")).stdout

    [order] = as_json(run("list", "order", "--json"))
    ok(run("order", "submit", order["id"][:8]))
    ok(run("sync"))
    shown = as_json(run("show", "order", order["id"], "--json"))
    assert (shown["status"], shown["total"]) == ("submitted", "196.23")
    assert sorted(line["line_total"] for line in shown["lines"]) == ["129.00", "67.23"]
    office = connect("office", "office-pc")
    assert office.client.get("order", order["id"])["status"] == "submitted"


def test_a_rep_plans_checks_in_and_completes_a_visit_from_the_command_line(run, sign_in, world):
    sign_in("rep_n")

    planned = as_json(run("visit", "plan", world.ids["acc_n1"][:8], "--at",
                          "2026-11-24T10:00:00+01:00", "--json"))
    ok(run("visit", "checkin", planned["id"][:8], "--lat", "52.52", "--lon", "13.405"))
    done = ok(run("visit", "complete", planned["id"], "--outcome", "Order taken")).stdout
    assert done.strip() == f"Completed visit {planned['id'][:8]}. (3 changes to sync)"
    ok(run("sync"))

    visit = as_json(run("show", "visit", planned["id"], "--json"))
    assert (visit["planned_at"], visit["status"], visit["latitude"]) == (
        "2026-11-24T09:00:00Z", "completed", "52.520000")


def test_a_technician_works_a_work_order_from_the_command_line(run, sign_in, world, connect,
                                                               tmp_path):
    sign_in("tech_a")
    wo, tech = world.ids["wo_a"][:8], {"user": "tech_a"}
    photo = tmp_path / "after.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")

    ok(run("workorder", "start", wo, **tech))
    used = ok(run("workorder", "use-part", wo, "GSK-1", "3", **tech)).stdout
    assert "Used 3 x Gasket; 7 left in the van." in used
    logged = ok(run("workorder", "log-time", wo, "--start", "2026-11-23T08:00:00Z", "--end",
                    "2026-11-23T09:15:00Z", **tech)).stdout
    assert "Logged 75 minutes of labor." in logged
    ok(run("workorder", "checklist", world.ids["check_a"][:8], "--answer", "180 ppm", **tech))
    ok(run("workorder", "attach", wo, str(photo), **tech))
    ok(run("workorder", "complete", wo, "--resolution", "Descaled", "--signed-by", "Ana Nord",
           **tech))
    assert "Pushed 7 changes: 7 applied" in ok(run("sync", **tech)).stdout

    office = connect("office", "office-pc")
    work_order = office.client.get("work_order", world.ids["wo_a"])
    assert (work_order["status"], work_order["signed_by"]) == ("completed", "Ana Nord")
    assert office.client.get("van_stock", world.ids["van_a"])["quantity"] == 7
    [attachment] = office.client.query("attachment", work_order_id=world.ids["wo_a"])
    assert (attachment["filename"], attachment["content_type"], attachment["size_bytes"]) == (
        "after.jpg", "image/jpeg", photo.stat().st_size)


def test_a_local_mistake_is_one_line_with_exit_code_1(run, sign_in, world):
    sign_in("tech_a")

    refused(run("workorder", "use-part", world.ids["wo_a"], "GSK-1", "0", user="tech_a"),
            "quantity: must be at least 1", 1)
    refused(run("workorder", "start", "no-such-work-order", user="tech_a"),
            "work_order_id: no work order no-such-work-order here", 1)
    refused(run("workorder", "log-time", world.ids["wo_a"], "--start", "yesterday", "--end",
                "2026-11-23T09:00:00Z", user="tech_a"), "is not an ISO 8601 timestamp", 2)


def test_offline_the_cli_says_changes_are_kept_and_exits_3(run, sign_in, world):
    sign_in("rep_n", UNREACHABLE)  # signed in and synced in-process, as if once online
    ok(run("visit", "plan", world.ids["acc_n1"], "--at", "2026-11-24T10:00:00Z"))
    off_the_grid = CliContext()  # the real network: nothing listens on port 9

    refused(run("--timeout", "0.5", "sync", config=off_the_grid), OFFLINE, 3)
    refused(run("login", "--password-stdin", input="secret", config=off_the_grid),
            f"cannot reach the server at {UNREACHABLE}", 3)
    status = as_json(run("status", "--json"))
    assert status["pending"] == 1
    assert "cannot reach the server" in status["last_error"]


def test_signed_out_commands_say_how_to_sign_in_and_keep_the_changes(run, sign_in, world):
    refused(run("sync"), "not signed in: run `fieldsync-client login`", 4)

    sign_in("rep_n")
    ok(run("visit", "plan", world.ids["acc_n1"], "--at", "2026-11-24T10:00:00Z"))
    logout = ok(run("logout")).stdout
    assert "Signed out. 1 unsent changes are kept" in logout
    refused(run("sync"), "not signed in", 4)
    assert "Signed in:        no (last: rep_n" in ok(run("status")).stdout


def test_a_replica_of_one_user_is_not_mixed_with_another(run, sign_in, world):
    sign_in("rep_n")
    other = world.user("rep_s")

    result = run("login", "--email", other.email, "--password-stdin", input=other.password)

    refused(result, f"this replica belongs to {world.user('rep_n').email}", 1)


def test_rejected_changes_are_listed_and_can_be_discarded(run, sign_in, world, connect):
    sign_in("rep_n")
    office = connect("office", "office-pc")
    price = office.client.query("price", product_id=world.ids["product2"])[0]
    office.client.delete("price", price["id"])
    office.client.sync()
    ok(run("order", "create", world.ids["acc_n1"], "--line", "P-2:1"))

    synced = ok(run("sync")).stdout
    assert "1 rejected" in synced and "fieldsync-client rejected" in synced
    listed = ok(run("rejected")).stdout
    assert "validation_failed" in listed and "product_id: not on the order's price list" in listed
    [rejection] = as_json(run("rejected", "--json"))
    ok(run("rejected", "discard", str(rejection["mutation_id"])))
    assert as_json(run("rejected", "--json")) == []
    refused(run("rejected", "discard", str(rejection["mutation_id"])),
            f"no rejected change {rejection['mutation_id']}", 1)


def test_conflicts_shows_how_a_concurrent_edit_was_decided(run, sign_in, world, connect):
    sign_in("rep_n")
    planned = as_json(run("visit", "plan", world.ids["acc_n1"], "--at", "2026-11-24T10:00Z",
                          "--json"))
    ok(run("sync"))
    office = connect("office", "office-pc")
    office.client.update("visit", planned["id"], {"status": "cancelled"})
    office.client.sync()
    ok(run("visit", "complete", planned["id"], "--outcome", "Order taken"))

    assert "1 with conflicts" in ok(run("sync")).stdout
    table = ok(run("conflicts")).stdout
    assert table.splitlines()[0].split()[:6] == ["SEQ", "ENTITY", "ID", "FIELD", "KIND",
                                                  "SERVER"]
    assert "status" in table and "cancelled" in table
    [conflict] = as_json(run("conflicts", "--json"))
    assert (conflict["detail"]["client"], conflict["detail"]["result"]) == (
        "completed", "cancelled")


def test_a_long_first_download_shows_a_progress_bar(run, world, app):
    office = world.user("office")
    config = CliContext(transport=Network(app), pull_limit=4)
    ok(run("login", "--server", SERVER_URL, "--email", office.email, "--password-stdin",
           user="office", input=office.password))

    result = ok(run("sync", user="office", config=config))

    assert "Downloading records" in result.stderr
    assert "Pulled 18 records." in result.stdout


def test_the_replica_lives_in_the_users_data_directory_unless_told_otherwise(
        monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_data_path() == tmp_path / "data" / "fieldsync" / "replica.db"

    monkeypatch.setenv("FIELDSYNC_CLIENT_DATA", str(tmp_path / "elsewhere.db"))
    result = CliRunner().invoke(cli, ["status", "--json"], obj=CliContext())

    assert as_json(result)["replica"] == str(tmp_path / "elsewhere.db")


def test_a_replica_that_cannot_be_opened_is_one_line_not_a_traceback(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    result = CliRunner().invoke(cli, ["--data", str(blocker / "replica.db"), "status"],
                                obj=CliContext())

    refused(result, f"cannot open the replica {blocker / 'replica.db'}", 1)


def test_the_readme_sdk_example_and_cli_walkthrough_on_one_machine_both_sync(run, world,
                                                                             connect):
    # Both sign in as "Tara's laptop"; the CLI's replica is another installation.
    sdk = connect("rep_n", "Tara's laptop")
    sdk_visit = sdk.client.create("visit", {"account_id": world.ids["acc_n1"],
                                            "rep_id": world.user("rep_n").id})
    assert sdk.client.sync().applied == 1
    rep = world.user("rep_n")

    signed_in = ok(run("login", "--server", SERVER_URL, "--email", rep.email, "--device",
                       "Tara's laptop", "--password-stdin", input=rep.password)).stdout
    assert "on device \"Tara's laptop (2)\"" in signed_in
    ok(run("sync"))
    planned = as_json(run("visit", "plan", world.ids["acc_n1"][:8], "--at",
                          "2026-11-24T10:00:00+01:00", "--json"))
    assert "Pushed 1 change: 1 applied" in ok(run("sync")).stdout

    sdk.client.sync()
    assert sdk.client.get("visit", planned["id"]) is not None
    assert as_json(run("show", "visit", sdk_visit, "--json"))["id"] == sdk_visit


def test_pending_changes_are_listed_edited_and_dropped(run, sign_in, world):
    sign_in("rep_n")
    planned = as_json(run("visit", "plan", world.ids["acc_n1"], "--at", "2026-11-24T10:00:00Z",
                          "--notes", "draft", "--json"))
    ok(run("visit", "plan", world.ids["acc_n1"], "--at", "2026-11-25T10:00:00Z"))
    listed = ok(run("pending")).stdout
    assert "queued" in listed and "notes=draft" in listed
    first, second = as_json(run("pending", "list", "--json"))
    assert first["id"] == planned["id"] and not first["in_flight"]
    ok(run("pending", "edit", str(first["mutation_id"]), "notes=final", "outcome=null"))
    refused(run("pending", "edit", str(first["mutation_id"]), "notes=" + "x" * 10_001),
            "notes: Longer than maximum length 10000.", 1)
    assert "Dropped pending change" in ok(run("pending", "drop",
                                              str(second["mutation_id"]))).stdout
    refused(run("pending", "drop", str(second["mutation_id"])),
            f"no pending change {second['mutation_id']}", 1)
    [left] = as_json(run("pending", "--json"))
    assert left["fields"]["notes"] == "final" and left["fields"]["outcome"] is None
    ok(run("sync"))
    assert as_json(run("pending", "--json")) == []
    shown = as_json(run("show", "visit", planned["id"], "--json"))
    assert shown["notes"] == "final"
