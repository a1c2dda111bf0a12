"""Pull cursors: opaque, signed, and refused once older than the retained history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.extensions import db
from server.models import SYNC_TABLES
from sync import changelog
from sync.cursor import EVICT, PUT, Cursor, Task, _b64, _mac, _unb64, decode, encode
from sync.database import write_transaction
from sync.errors import InvalidCursor, ResetRequired
from sync.protocol import Op
from sync.sqltypes import utcnow
from tests.world import build_world

SECRET = b"s" * 32


def test_a_cursor_survives_encoding_and_decoding():
    cursor = Cursor(seq=42, keys=("catalog", "territory:1"),
                    tasks=(Task(PUT, ("territory:2",), after=("account", "abc"), total=9,
                                done=3), Task(EVICT, ("territory:3",))),
                    trail=("territory:3",), trail_until=57)
    assert decode(encode(cursor, SECRET), SECRET) == cursor


def test_the_cursor_is_opaque_text_safe_in_json_and_urls():
    token = encode(Cursor(seq=1, keys=("a b", "ü")), SECRET)
    assert token.isascii()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789-_.")


def test_a_cursor_signed_with_another_secret_is_refused():
    token = encode(Cursor(seq=5), b"another secret")
    with pytest.raises(InvalidCursor) as info:
        decode(token, SECRET)
    assert info.value.code == "invalid_cursor"


def test_a_cursor_whose_payload_was_altered_is_refused():
    token = encode(Cursor(seq=5), SECRET)
    payload, mac = token.split(".")
    forged = _b64(_unb64(payload).replace(b'"seq":5', b'"seq":9'))
    assert forged != payload
    with pytest.raises(InvalidCursor):
        decode(f"{forged}.{mac}", SECRET)


@pytest.mark.parametrize("token", ["", "no-dot", "a.b.c", "....", "éé.éé", "%%%.%%%"])
def test_text_that_is_not_a_cursor_is_refused(token):
    with pytest.raises(InvalidCursor):
        decode(token, SECRET)


def test_a_correctly_signed_payload_of_the_wrong_shape_is_refused():
    payload = _b64(b'{"seq": 1}')
    with pytest.raises(InvalidCursor):
        decode(f"{payload}.{_mac(SECRET, payload)}", SECRET)


# -- against the change log ---------------------------------------------------------------


def rename(sync, conn, entity, record_id, name, *, now):
    sync.write(conn, entity, record_id, Op.UPDATE, {"name": name}, now=now)


def test_a_cursor_older_than_the_horizon_must_reset(app):
    w = build_world(app)
    sync = app.extensions["fieldsync.sync"]
    long_ago = utcnow() - timedelta(days=90)
    with app.app_context(), write_transaction(db.engine) as conn:
        old_cursor = sync.pull(conn, ["*"], None).cursor
        rename(sync, conn, "account", w.ids["acc_n1"], "Renamed long ago", now=long_ago)
        rename(sync, conn, "account", w.ids["acc_n2"], "Renamed today", now=utcnow())
        deleted = changelog.truncate_before(conn, SYNC_TABLES, utcnow() - timedelta(days=30))
        assert deleted >= 1
        with pytest.raises(ResetRequired) as info:
            sync.pull(conn, ["*"], old_cursor)
        assert info.value.code == "reset_required"


def test_a_cursor_older_than_the_horizon_must_reset_with_nothing_new_in_its_scope(app):
    w = build_world(app)
    sync = app.extensions["fieldsync.sync"]
    with app.app_context(), write_transaction(db.engine) as conn:
        keys = ["catalog"]  # no account is in this scope
        old_cursor = sync.pull(conn, keys, None).cursor
        while sync.pull(conn, keys, old_cursor).more:
            old_cursor = sync.pull(conn, keys, old_cursor).cursor
        rename(sync, conn, "account", w.ids["acc_n1"], "Renamed long ago",
               now=utcnow() - timedelta(days=90))
        assert sync.pull(conn, keys, old_cursor).changes == []
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() - timedelta(days=30))
        with pytest.raises(ResetRequired):
            sync.pull(conn, keys, old_cursor)


def test_a_cursor_older_than_the_horizon_must_reset_in_the_middle_of_its_snapshot(app):
    w = build_world(app)
    sync = app.extensions["fieldsync.sync"]
    with app.app_context(), write_transaction(db.engine) as conn:
        page = sync.pull(conn, ["*"], None, limit=1)
        assert page.phase == "snapshot" and page.more
        rename(sync, conn, "account", w.ids["acc_n1"], "Renamed long ago",
               now=utcnow() - timedelta(days=90))
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() - timedelta(days=30))
        with pytest.raises(ResetRequired):
            sync.pull(conn, ["*"], page.cursor, limit=1)


def test_a_cursor_at_the_horizon_has_missed_nothing_and_keeps_pulling(app):
    w = build_world(app)
    sync = app.extensions["fieldsync.sync"]
    long_ago = utcnow() - timedelta(days=90)
    with app.app_context(), write_transaction(db.engine) as conn:
        rename(sync, conn, "account", w.ids["acc_n1"], "Renamed long ago", now=long_ago)
        cursor = sync.pull(conn, ["*"], None).cursor  # caught up, at the old change
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() - timedelta(days=30))
        assert changelog.horizon(conn, SYNC_TABLES) == decode(cursor, sync.secret).seq
        rename(sync, conn, "account", w.ids["acc_n2"], "Renamed today", now=utcnow())
        page = sync.pull(conn, ["*"], cursor)
    assert [(c["entity"], c["id"]) for c in page.change_dicts()] == [
        ("account", w.ids["acc_n2"])]


def test_pulling_from_no_cursor_after_truncation_starts_at_the_horizon(app):
    w = build_world(app)
    sync = app.extensions["fieldsync.sync"]
    with app.app_context(), write_transaction(db.engine) as conn:
        rename(sync, conn, "account", w.ids["acc_n1"], "x", now=utcnow())
        changelog.truncate_before(conn, SYNC_TABLES, utcnow() + timedelta(days=1))
        horizon = changelog.horizon(conn, SYNC_TABLES)
        assert horizon > 0
        assert changelog.read_after(conn, SYNC_TABLES, 0, None, 10) == []
        first = sync.pull(conn, ["*"], None)
        assert decode(first.cursor, sync.secret).seq == horizon
        sync.pull(conn, ["*"], first.cursor)  # must not ask for a reset

