"""The back office in a real browser: headless Chromium (Debian's, through Playwright's
`executable_path`) against a live server. Each office role walks every page; the back office
resolves a conflict, approves an order and exports a CSV; the dispatcher assigns a work order
that the technician's SDK replica then receives. Screenshots at desktop and tablet width go
to test-artifacts/office/ (gitignored).

Skipped, with the reason, when Playwright or Chromium is missing (`.ci/run` installs both).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from server import create_app
from server.domain import import_records
from server.extensions import db
from sync.database import write_transaction
from sync.entities import ALL, Actor
from sync.protocol import Op
from tests.conftest import TEST_CONFIG
from tests.world import uid

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")
CHROMIUM = os.environ.get("FIELDSYNC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"),
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "office"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "tablet": {"width": 768, "height": 1024}}
PAGES = ["Today", "Data", "Conflicts", "Rejections", "Approvals", "Dispatch", "Devices",
         "Reports"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def office_work(world, server_database) -> dict[str, str]:
    """What the office finds waiting: a submitted order and an unassigned work order."""
    ids = {"order": uid(), "job": uid()}
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": server_database}, env={})
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "order", [{
            "id": ids["order"], "account_id": world.ids["acc_n1"],
            "rep_id": world.user("rep_n").id, "price_list_id": world.ids["price_list"],
            "status": "submitted"}])
        import_records(conn, "work_order", [{
            "id": ids["job"], "account_id": world.ids["acc_n2"], "title": "Grinder jammed",
            "status": "new", "priority": "high"}])
    with app.app_context():
        db.engine.dispose()
    return ids


def sign_in(browser, server, user, size="desktop"):
    page = browser.new_page(viewport=WIDTHS[size])
    page.goto(f"{server.url}/office/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("heading", name="Today")).to_be_visible()
    return page


def go(page, section: str) -> None:
    page.get_by_role("navigation", name="Office sections").get_by_role(
        "link", name=section, exact=True).click()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("role", ["dispatcher", "office", "admin"])
@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_each_office_role_walks_every_page(browser, office_work, live_server, world, role,
                                           size):
    page = sign_in(browser, live_server, world.user(role), size)
    for title in PAGES:
        go(page, title)
        sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text(
            "Dispatch board" if title == "Dispatch" else title)
        shoot(page, f"{role}-{size}-{title.lower()}")
    page.goto(f"{live_server.url}/office/data/account")
    page.get_by_label("Name contains").fill("nord")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("tbody th[scope=row]")
    sync_api.expect(rows).to_have_count(2)  # Café Nord, Bistro Nord
    page.get_by_role("link", name="Café Nord").click()
    sync_api.expect(page.get_by_role("heading", name="Account: Café Nord")).to_be_visible()
    sync_api.expect(page.get_by_role("heading", name="History")).to_be_visible()
    shoot(page, f"{role}-{size}-record")
    page.close()


def test_the_back_office_resolves_a_conflict_approves_an_order_and_exports_csv(
        browser, office_work, live_server, world, connect, server_database, tmp_path):
    rep = connect("rep_n")
    _office_edit(server_database, world.ids["acc_n1"], notes="office: closed Mondays")
    rep.client.update("account", world.ids["acc_n1"], {"notes": "rep: closed Sundays"})
    rep.client.sync()
    page = sign_in(browser, live_server, world.user("office"))

    go(page, "Conflicts")
    shoot(page, "office-desktop-conflict-queue")
    row = page.locator("tr", has_text="rep: closed Sundays")
    row.get_by_label("Take the device's value").check()
    page.get_by_role("button", name="Apply the chosen outcomes").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Resolved 1 conflict")
    rep.client.sync()
    assert rep.client.get("account", world.ids["acc_n1"])["notes"] == "rep: closed Sundays"

    go(page, "Approvals")
    page.get_by_role("button", name="Approve the order of Café Nord").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Order approved")
    rep.client.sync()
    assert rep.client.get("order", office_work["order"])["status"] == "approved"

    go(page, "Reports")
    page.get_by_role("link", name="Order pipeline by status").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / "pipeline.csv"
    download.value.save_as(saved)
    assert saved.read_text().splitlines()[0] == "status,orders,value"
    assert re.search(r"^approved,1,", saved.read_text(), re.M)
    shoot(page, "office-desktop-report")


def test_a_dispatcher_assigns_a_job_that_reaches_the_technicians_replica(
        browser, office_work, live_server, world, connect):
    technician = connect("tech_b")
    assert technician.client.get("work_order", office_work["job"]) is None
    page = sign_in(browser, live_server, world.user("dispatcher"), "tablet")
    go(page, "Dispatch")
    card = page.locator("article", has_text="Grinder jammed")
    card.get_by_label("Technician").select_option(label="tech_b")
    card.get_by_label("Start").fill("2026-03-03T08:30")
    card.get_by_role("button", name="Assign").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Work order assigned")
    shoot(page, "dispatcher-tablet-assigned")
    technician.client.sync()
    job = technician.client.get("work_order", office_work["job"])
    assert job["technician_id"] == world.user("tech_b").id and job["status"] == "scheduled"


def test_a_technician_is_refused_the_office_in_the_browser(browser, live_server, world):
    page = browser.new_page()
    page.goto(f"{live_server.url}/office/sign-in")
    page.get_by_label("Email").fill(world.user("tech_a").email)
    page.get_by_label("Password").fill(world.user("tech_a").password)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("field app")
    page.close()


def _office_edit(database_url: str, account_id: str, **fields) -> None:
    from server.api.sync import sync_engine

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url}, env={})
    with app.app_context():
        with write_transaction(db.engine) as conn:
            sync_engine().write(conn, "account", account_id, Op.UPDATE, fields,
                                actor=Actor(None, "admin", frozenset({ALL})))
        db.engine.dispose()
