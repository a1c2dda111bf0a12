"""Conflicts and rejections pages: values side by side, resolve one or many, by reason."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES, Account
from tests.device import Device
from tests.server.office.pages import office_sign_in, post_form
from tests.world import build_world


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def office(app, world):
    client = app.test_client()
    user = world.user("office")
    assert office_sign_in(client, user.email, user.password).status_code == 302
    return client


@pytest.fixture
def two_conflicts(app, client, world, office):
    """The office edits the notes of two accounts; a rep then edits both from version 1:
    two open conflicts (notes merge by hand)."""
    rep = Device(client, world.user("rep_n"))
    for n, account in enumerate((world.ids["acc_n1"], world.ids["acc_n2"])):
        _office_edit(app, account, notes=f"office notes {n}")
        [result] = rep.push({"entity": "account", "id": account, "op": "update",
                             "base_version": 1, "fields": {"notes": f"rep notes {n}"},
                             "base": {"notes": None}})
        assert result["status"] == "conflict", result
    return {c.record_id: c.id for c in _open(app)}


def test_the_queue_shows_base_current_and_device_values_with_who_and_when(
        office, world, two_conflicts):
    page = html.unescape(office.get("/office/conflicts").data.decode())
    for n in (0, 1):
        assert f"office notes {n}" in page and f"rep notes {n}" in page
    assert "rep_n on laptop" in page


def test_taking_the_devices_value_for_one_and_setting_a_value_for_another(
        app, office, world, two_conflicts):
    n1, n2 = two_conflicts[world.ids["acc_n1"]], two_conflicts[world.ids["acc_n2"]]
    answer = post_form(office, "/office/conflicts", {
        f"choose-{n1}": "device", f"choose-{n2}": "value", f"value-{n2}": "agreed by phone"})
    assert answer.status_code == 302
    with app.app_context():
        assert db.session.get(Account, world.ids["acc_n1"]).notes == "rep notes 0"
        assert db.session.get(Account, world.ids["acc_n2"]).notes == "agreed by phone"
    assert _open(app) == []
    assert b"Resolved 2 conflicts" in office.get("/office/conflicts").data


def test_keeping_the_current_value_writes_nothing_and_leaves_the_others_open(
        app, office, world, two_conflicts):
    post_form(office, "/office/conflicts",
              {f"choose-{two_conflicts[world.ids['acc_n1']]}": "current"})
    with app.app_context():
        assert db.session.get(Account, world.ids["acc_n1"]).notes == "office notes 0"
    assert [c.record_id for c in _open(app)] == [world.ids["acc_n2"]]


def test_a_conflict_already_settled_is_reported_not_settled_twice(app, office, two_conflicts):
    conflict = next(iter(two_conflicts.values()))
    post_form(office, "/office/conflicts", {f"choose-{conflict}": "current"})
    post_form(office, "/office/conflicts", {f"choose-{conflict}": "device"})
    assert b"not resolved (conflict_not_open)" in office.get("/office/conflicts").data


def test_resolving_without_the_csrf_token_is_refused(app, office, two_conflicts):
    answer = office.post("/office/conflicts", data={f"choose-{conflict}": "device"
                                                    for conflict in two_conflicts.values()})
    assert answer.status_code == 400 and len(_open(app)) == 2


def test_rejections_show_the_mutation_reason_device_and_user_grouped_by_reason(
        client, office, world):
    rep = Device(client, world.user("rep_s"))
    rep.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
              "base_version": 1, "fields": {"notes": "not my territory"}})
    rep.push({"entity": "account", "id": world.ids["acc_s1"], "op": "update",
              "base_version": 1, "fields": {"status": "no-such-status"}})
    page = html.unescape(office.get("/office/rejections").data.decode())
    assert "not my territory" in page and "rep_s on laptop" in page
    assert "validation_failed (1)" in page
    only = html.unescape(office.get("/office/rejections?code=validation_failed").data.decode())
    assert "no-such-status" in only and "not my territory" not in only


def _office_edit(app, account_id: str, **fields) -> None:
    from server.api.sync import sync_engine
    from sync.database import write_transaction
    from sync.entities import ALL, Actor
    from sync.protocol import Op

    with app.app_context(), write_transaction(db.engine) as conn:
        sync_engine().write(conn, "account", account_id, Op.UPDATE, fields,
                            actor=Actor(None, "admin", frozenset({ALL})))


def _open(app) -> list:
    c = SYNC_TABLES.conflict
    with app.app_context():
        return db.session.execute(sa.select(c).where(c.c.status == "open")
                                  .order_by(c.c.field)).all()
