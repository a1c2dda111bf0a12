"""Today's counts and the Devices page: sync times, backlog, rejections, revocation."""

from __future__ import annotations

import html
import re

import pytest

from server.domain import import_records
from server.extensions import db
from sync.database import write_transaction
from tests.device import Device
from tests.server.office.pages import office_sign_in, post_form
from tests.world import build_world, uid


@pytest.fixture
def world(app):
    return build_world(app)


def signed_in(app, world, name: str):
    client = app.test_client()
    user = world.user(name)
    assert office_sign_in(client, user.email, user.password).status_code == 302
    return client


def count(page: bytes, key: str) -> int:
    return int(re.search(rf'id="count-{key}">(\d+)<'.encode(), page).group(1))


def test_today_counts_what_needs_the_office(app, client, world):
    rep = Device(client, world.user("rep_n"))
    rep.sync()
    rep.push({"entity": "account", "id": world.ids["acc_s1"], "op": "update",
              "base_version": 1, "fields": {"notes": "not my territory"}})
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "order", [{
            "id": uid(), "account_id": world.ids["acc_n1"], "rep_id": world.user("rep_n").id,
            "price_list_id": world.ids["price_list"], "status": "submitted"}])
        import_records(conn, "work_order", [{
            "id": uid(), "account_id": world.ids["acc_n2"], "title": "Late", "status": "new",
            "priority": "low", "due_at": "2020-01-01T00:00:00Z"}])
    page = signed_in(app, world, "dispatcher").get("/office/").data
    assert count(page, "synced_hour") == 1 and count(page, "synced_day") == 1
    assert count(page, "failing") == 1 and count(page, "rejections_day") == 1
    assert count(page, "awaiting_approval") == 1 and count(page, "past_due") == 1
    assert count(page, "open_conflicts") == 0
    assert b'href="/office/reports/past-due"' in page


def test_devices_show_owner_last_push_and_rejections(app, client, world):
    rep = Device(client, world.user("rep_n"), name="rep tablet")
    rep.push({"entity": "account", "id": world.ids["acc_s1"], "op": "update",
              "base_version": 1, "fields": {"notes": "not my territory"}})
    page = html.unescape(signed_in(app, world, "office").get("/office/devices").data.decode())
    row = re.search(r"<th scope=\"row\">rep tablet</th>(.*?)</tr>", page, re.S).group(1)
    assert "rep_n" in row
    _seen, last_push, last_pull = re.findall(r"<td>([^<]*)</td>", row)[:3]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", last_push) and last_pull == "—"
    assert re.findall(r'<td class="num"><a [^>]+>(\d+)</a></td>', row) == ["1"]


def test_an_admin_revokes_a_device_and_it_can_no_longer_sync(app, client, world):
    rep = Device(client, world.user("rep_n"), name="lost phone")
    admin = signed_in(app, world, "admin")
    page = admin.get("/office/devices").data.decode()
    device_id = re.search(r'/office/devices/([0-9a-f-]+)/revoke', page).group(1)
    answer = post_form(admin, f"/office/devices/{device_id}/revoke", page="/office/devices")
    assert answer.status_code == 302
    assert "Revoked" in admin.get("/office/devices").data.decode()
    refused = rep.post("/api/v1/sync/pull", {"protocol": 1, "cursor": None})
    assert refused.get_json()["error"]["code"] == "device_revoked"


def test_only_admins_may_revoke(app, client, world):
    Device(client, world.user("rep_n"), name="phone")
    dispatcher = signed_in(app, world, "dispatcher")
    page = dispatcher.get("/office/devices").data.decode()
    assert "/revoke" not in page
    admin_page = signed_in(app, world, "admin").get("/office/devices").data.decode()
    device_id = re.search(r'/office/devices/([0-9a-f-]+)/revoke', admin_page).group(1)
    refused = post_form(dispatcher, f"/office/devices/{device_id}/revoke",
                        page="/office/devices")
    assert refused.status_code == 403
