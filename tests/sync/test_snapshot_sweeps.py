"""Snapshot pages sweep a task's keys one after the other (one index range scan each, joined
row by row, nothing merged or sorted): a record carrying several keys of the task is sent
in the sweep of the first, a page goes on with the next key when one ends, and keys that
leave the scope mid-sweep are dropped without losing the others."""

from __future__ import annotations

import itertools
import json

import pytest

from server.extensions import db
from sync.cursor import PUT, Cursor, Task, _b64, _mac, _unb64, decode, encode
from sync.database import read_transaction
from sync.errors import InvalidCursor
from sync.pull import _snapshot_query
from tests.sync.harness import Harness, T


def pull_all(h: Harness, keys, cursor=None, limit=1000, pages=None):
    """Pull pages with `keys` until caught up (or `pages` pages); returns (the changes in
    order, the last cursor, the progress of every snapshot page)."""
    changes, progress = [], []
    for _ in range(pages or 10_000):
        with h.app.app_context(), read_transaction(db.engine) as conn:
            page = h.sync.pull(conn, keys, cursor, limit)
        changes += [json.loads(c) for c in page.changes]
        cursor = page.cursor
        if page.phase == "snapshot":
            progress.append(page.progress)
        if not page.more:
            break
    return changes, cursor, progress


def carrying(h: Harness, keys) -> set[tuple[str, str]]:
    rk = T.record_key
    return {(r["entity"], r["record_id"]) for r in h.rows(rk, rk.c.key.in_(list(keys)))}


def replica(changes) -> dict[tuple[str, str], int]:
    held = {}
    for c in changes:
        if c["op"] == "put":
            held[(c["entity"], c["id"])] = c["version"]
        else:
            held.pop((c["entity"], c["id"]), None)
    return held


@pytest.fixture
def h(app):
    return Harness(app)


def test_a_record_carrying_two_keys_of_the_snapshot_is_sent_once_at_any_page_size(h):
    # acc_n1 carries territory:N and its site key; the sweep of "site:..." (first in order)
    # sends it, the sweep of "territory:N" skips it.
    site, territory = f"site:{h.w.ids['acc_n1']}", f"territory:{h.w.territories['N']}"
    keys = {site, territory}
    due = carrying(h, keys)
    assert ("account", h.w.ids["acc_n1"]) in carrying(h, {site}) & carrying(h, {territory})
    whole, _, _ = pull_all(h, keys)
    assert [(c["entity"], c["id"]) for c in whole if c["op"] == "put"]
    for limit in (1, 2, 3, 1000):
        changes, _, progress = pull_all(h, keys, limit=limit)
        sent = [(c["entity"], c["id"]) for c in changes]
        assert len(sent) == len(set(sent)) and set(sent) == due
        assert sent == [(c["entity"], c["id"]) for c in whole]
        # progress counts each record once and reaches the total exactly
        assert progress[-1] == {"snapshot_total": len(due), "snapshot_done": len(due)}
        done = [0] + [p["snapshot_done"] for p in progress]
        assert all(0 <= b - a <= limit for a, b in itertools.pairwise(done))


def sweep_until(h: Harness, keys, key: str):
    """Pull pages of one record with `keys` until the snapshot sweeps `key`, past its
    first record; returns (the changes so far, the cursor)."""
    changes, cursor = [], None
    while True:
        more, cursor, _ = pull_all(h, keys, cursor, limit=1, pages=1)
        changes += more
        task = decode(cursor, h.sync.secret).tasks[0]
        if task.keys[task.key] == key and task.after is not None:
            return changes, cursor


def test_a_key_that_leaves_the_scope_while_it_is_swept_is_dropped_and_the_next_one_swept(h):
    first, second = sorted(f"territory:{h.w.territories[c]}" for c in "NS")
    changes, cursor = sweep_until(h, {"catalog", first, second}, first)
    more, _, _ = pull_all(h, {"catalog", second}, cursor, limit=2)  # first is withdrawn
    assert set(replica(changes + more)) == carrying(h, {"catalog", second})


def test_a_key_swept_already_that_leaves_the_scope_is_evicted(h):
    first, second = sorted(f"territory:{h.w.territories[c]}" for c in "NS")
    changes, cursor = sweep_until(h, {"catalog", first, second}, second)
    assert carrying(h, {first}) <= set(replica(changes))
    more, _, _ = pull_all(h, {"catalog", second}, cursor, limit=3)
    assert set(replica(changes + more)) == carrying(h, {"catalog", second})


def _resigned(cursor: str, secret: bytes, edit) -> str:
    """`cursor` with its JSON edited by `edit(text)` and signed again."""
    payload = cursor.split(".")[0]
    text = edit(_unb64(payload).decode())
    payload = _b64(text.encode())
    return f"{payload}.{_mac(secret, payload)}"


def test_a_cursor_from_before_the_sweeps_resumes_at_its_first_key():
    secret = b"s" * 32
    task = Task(PUT, ("a", "b"), after=("account", "x"), total=5)
    cursor = encode(Cursor(seq=7, keys=("a", "b"), tasks=(task,)), secret)
    legacy = _resigned(cursor, secret, lambda text: text.replace(',"key":0', ""))
    assert legacy != cursor and decode(legacy, secret).tasks == (task,)
    forged = _resigned(cursor, secret, lambda text: text.replace('"key":0', '"key":-1'))
    with pytest.raises(InvalidCursor):
        decode(forged, secret)


def test_the_snapshot_page_is_one_ordered_index_scan_on_sqlite(h):
    # No temporary b-tree to merge or sort: the plan reads the key index in order and looks
    # each record up as it goes.
    with h.app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("SQLite's query plan")
        compiled = _snapshot_query(T, "sqlite", False, True).compile(conn)
        values = {"key": "k", "after_entity": "account", "after_id": "", "limit": 10}
        plan = " | ".join(row[-1] for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}",
            tuple(values.get(name, 0) for name in compiled.positiontup)))
    assert "TEMP B-TREE" not in plan and "sync_record_key" in plan, plan
