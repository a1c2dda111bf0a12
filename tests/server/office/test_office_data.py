"""Data pages: lists with search, filters, sorting and key paging; the record page; edits."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES, Account, Territory
from tests.server.office.conftest import demo_user
from tests.server.office.pages import post_form


def names_on(page: bytes) -> list[str]:
    """The names of the records a list page shows, in order."""
    return [html.unescape(n) for n in re.findall(
        r'<th scope="row"><a href="/office/data/[a-z_]+/[0-9a-f-]+">([^<]+)</a></th>',
        page.decode())]


def test_every_entity_has_a_list_page(office):
    index = office.get("/office/data/")
    for entity in re.findall(rb'href="/office/data/([a-z_]+)"', index.data):
        assert office.get(f"/office/data/{entity.decode()}").status_code == 200, entity


def test_search_finds_names_that_contain_the_words_in_any_case(app, office):
    with app.app_context():
        name = db.session.scalar(sa.select(Account.name).order_by(Account.name).limit(1))
    needle = name.split()[-1][1:].upper()
    page = office.get(f"/office/data/account?q={needle}")
    shown = names_on(page.data)
    assert shown and all(needle.lower() in n.lower() for n in shown)
    assert name in shown


def test_key_paging_walks_every_account_once_in_name_order(app, office):
    with app.app_context():
        expected = db.session.scalars(sa.select(Account.name).order_by(Account.name,
                                                                        Account.id)).all()
    seen, url = [], "/office/data/account?sort=name"
    for _ in range(10):
        page = office.get(url)
        seen += names_on(page.data)
        nxt = re.search(rb'rel="next" href="([^"]+)"', page.data)
        if not nxt:
            break
        url = nxt.group(1).decode().replace("&amp;", "&")
    assert seen == expected and len(expected) == 30


def test_descending_sort_by_update_time_and_a_territory_filter(app, office):
    with app.app_context():
        territory = db.session.scalars(sa.select(Territory)).first()
        inside = set(db.session.scalars(sa.select(Account.name).where(
            Account.territory_id == territory.id)))
    page = office.get(f"/office/data/account?territory={territory.id}&sort=updated_at&dir=desc")
    shown = set(names_on(page.data))
    assert shown == inside


def test_lists_show_related_names_instead_of_ids(app, office, company):
    rep, rep_id = demo_user(company, "rep")
    page = office.get(f"/office/data/order?owner={rep_id}")
    assert page.status_code == 200
    assert rep.name.encode() in page.data
    assert rep_id.encode() not in page.data.replace(f'value="{rep_id}"'.encode(), b"")


def test_a_bad_page_link_answers_400_not_a_crash(office):
    assert office.get("/office/data/account?after=not-a-cursor").status_code == 400


def test_the_record_page_shows_fields_related_records_and_history(app, office):
    with app.app_context():
        account = db.session.scalars(sa.select(Account)).first()
        territory = db.session.get(Territory, account.territory_id)
    page = office.get(f"/office/data/account/{account.id}")
    assert page.status_code == 200
    text = html.unescape(page.data.decode())
    assert account.name in text and territory.name in text
    assert b"Related records" in page.data and b"Contact" in page.data
    assert b"1 create" in page.data  # the audit trail's first version


def test_an_office_edit_goes_through_the_engine_and_into_the_history(app, office, company):
    with app.app_context():
        account = db.session.scalars(sa.select(Account)).first()
        version = account.version
    url = f"/office/data/account/{account.id}"
    answer = post_form(office, url, {"version": version, "phone": "+1 555 0100",
                                     **_unchanged(app, account.id, but="phone")})
    assert answer.status_code == 302
    with app.app_context():
        stored = db.session.get(Account, account.id)
        assert stored.phone == "+1 555 0100" and stored.version == version + 1
        change = db.session.execute(sa.select(SYNC_TABLES.change).where(
            SYNC_TABLES.change.c.record_id == account.id).order_by(
            SYNC_TABLES.change.c.seq.desc())).first()
        assert change.version == version + 1  # in the change log: devices pull it
    back_office, _ = demo_user(company, "back_office")
    assert back_office.name.encode() in office.get(url).data


def test_an_edit_of_a_field_someone_changed_since_the_form_opened_is_not_saved(app, office):
    with app.app_context():
        account = db.session.scalars(sa.select(Account)).first()
        version = account.version
    url = f"/office/data/account/{account.id}"
    fields = _unchanged(app, account.id, but="phone")
    post_form(office, url, {"version": version, "phone": "+1 555 0101", **fields})
    stale = post_form(office, url, {"version": version, "phone": "+1 555 0102", **fields})
    assert stale.status_code == 302
    with app.app_context():
        assert db.session.get(Account, account.id).phone == "+1 555 0101"
    assert b"since you opened the record" in office.get(url).data


def test_an_edit_the_rules_refuse_is_explained_and_not_saved(app, office):
    with app.app_context():
        account = db.session.scalars(sa.select(Account)).first()
        version = account.version
    url = f"/office/data/account/{account.id}"
    fields = _unchanged(app, account.id, but="name")
    post_form(office, url, {"version": version, "name": "", **fields})
    with app.app_context():
        assert db.session.get(Account, account.id).name == account.name
    assert b"Not saved (validation_failed)" in office.get(url).data


def test_users_are_not_a_replicated_entity_page(office):
    assert office.get("/office/data/user").status_code == 404


def _unchanged(app, account_id: str, but: str) -> dict:
    """The edit form's other fields as the record has them (the form sends them all)."""
    import json

    with app.app_context():
        r = SYNC_TABLES.record
        payload = json.loads(db.session.scalar(sa.select(r.c.payload).where(
            r.c.record_id == account_id)))
    return {k: ("" if v is None else str(v)) for k, v in payload.items()
            if k not in {"id", but, "version", "created_at", "updated_at", "deleted_at"}
            and not isinstance(v, bool)}



def test_an_account_moves_to_another_territory_picked_from_a_list(app, office):
    with app.app_context():
        account = db.session.scalars(sa.select(Account)).first()
        other = db.session.scalars(sa.select(Territory).where(
            Territory.id != account.territory_id)).first()
        version = account.version
    url = f"/office/data/account/{account.id}"
    page = html.unescape(office.get(url).data.decode())
    assert f'<option value="{other.id}">{other.name}</option>' in page
    fields = _unchanged(app, account.id, but="territory_id")
    post_form(office, url, {"version": version, "territory_id": other.id, **fields})
    with app.app_context():
        assert db.session.get(Account, account.id).territory_id == other.id
