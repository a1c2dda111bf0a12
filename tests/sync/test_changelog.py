"""The change log: read after a cursor by scope key, compact without losing evictions, truncate."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.domain import user_keys
from sync import changelog
from sync.protocol import Op
from sync.records import ChangeEntry
from sync.sqltypes import utcnow
from tests.sync.harness import Harness, T


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def logged(h: Harness, entity: str, record_id: str) -> list[changelog.LoggedChange]:
    with h.tx() as conn:
        return [c for c in changelog.read_after(conn, T, 0, None, 100_000)
                if (c.entity, c.record_id) == (entity, record_id)]


def head(h: Harness) -> int:
    with h.tx() as conn:
        return changelog.head(conn, T)


def compact(h: Harness, before_seq: int | None = None) -> int:
    with h.tx() as conn:
        upto = changelog.head(conn, T) if before_seq is None else before_seq
        return changelog.compact(conn, T, upto)


def sync_as(h: Harness, user: str, cursor: str | None) -> tuple[list[dict], str]:
    """Pull every page for `user` from `cursor`; returns the changes and the new cursor."""
    created = h.w.users[user]
    changes = []
    with h.tx() as conn:
        keys = user_keys(conn, created.id, created.role)
        while True:
            page = h.sync.pull(conn, keys, cursor, limit=50)
            changes += page.change_dicts()
            cursor = page.cursor
            if not page.more:
                return changes, cursor


def seen(changes: list[dict]) -> set[tuple[str, str, str]]:
    return {(c["op"], c["entity"], c["id"]) for c in changes}


# -- reading ---------------------------------------------------------------------------------


def test_reading_after_a_sequence_number_returns_later_changes_in_order(h):
    start = head(h)
    for name in ("one", "two", "three"):
        h.write("account", h.w.ids["acc_n2"], Op.UPDATE, {"name": name})
    with h.tx() as conn:
        changes = changelog.read_after(conn, T, start, None, 10)
        first_two = changelog.read_after(conn, T, start, None, 2)
    assert [c.version for c in changes] == [2, 3, 4]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert first_two == changes[:2]


def test_reading_by_scope_key_returns_only_changes_carrying_those_keys(h):
    start = head(h)
    north, south = (f"territory:{h.w.territories[c]}" for c in "NS")
    h.write("account", h.w.ids["acc_n1"], Op.UPDATE, {"phone": "1"})
    h.write("account", h.w.ids["acc_s1"], Op.UPDATE, {"phone": "2"})
    with h.tx() as conn:
        north_only = changelog.read_after(conn, T, start, [north], 10)
        both = changelog.read_after(conn, T, start, [north, south], 10)
        none = changelog.read_after(conn, T, start, [], 10)
    assert [c.record_id for c in north_only] == [h.w.ids["acc_n1"]]
    assert [c.record_id for c in both] == [h.w.ids["acc_n1"], h.w.ids["acc_s1"]]
    assert none == []


def test_a_move_is_logged_with_the_keys_before_and_after(h):
    account = h.w.ids["acc_n1"]
    h.write("account", account, Op.UPDATE, {"territory_id": h.w.territories["S"]})
    move = logged(h, "account", account)[-1]
    assert {f"territory:{h.w.territories['N']}", f"territory:{h.w.territories['S']}"} <= move.keys


# -- appending ------------------------------------------------------------------------------


def entries(count: int, keys_of=lambda n: {f"k{n % 3}", f"site:{n}"}) -> list[ChangeEntry]:
    return [ChangeEntry("account", f"r{n:04d}", 1, n % 5 == 0, frozenset(keys_of(n)), "dev",
                        utcnow()) for n in range(count)]


@pytest.mark.parametrize("limit", [None, 30], ids=["one statement", "split by parameters"])
def test_an_append_numbers_its_changes_on_from_the_head_and_logs_every_key(
        h, monkeypatch, limit):
    if limit is not None:  # room for two or three changes per statement: many statements
        monkeypatch.setattr(changelog, "MAX_PARAMETERS", limit)
    first = head(h) + 1
    appended = entries(11, keys_of=lambda n: {f"k{n % 3}", f"site:{n}"} if n % 4 else set())
    sent = []
    with h.tx() as conn:
        sa.event.listen(conn, "before_cursor_execute",
                        lambda *args: sent.append(len(args[3] or ())))
        seqs = changelog.append(conn, T, appended)
    assert max(sent) <= (limit or changelog.MAX_PARAMETERS)
    assert seqs == list(range(first, first + 11))
    assert head(h) == first + 10
    with h.tx() as conn:
        stored = {c.seq: c for c in changelog.read_after(conn, T, first - 1, None, 100)}
        by_key = {key: [c.seq for c in changelog.read_after(conn, T, first - 1, [key], 100)]
                  for key in ("k0", "k1", "k2", "site:5")}
    assert [(stored[s].record_id, stored[s].deleted, stored[s].keys) for s in seqs] == [
        (e.record_id, e.deleted, e.keys) for e in appended]
    assert by_key == {f"k{r}": [first + n for n in range(11) if n % 3 == r and n % 4]
                      for r in range(3)} | {"site:5": [first + 5]}


def test_an_append_after_a_truncation_numbers_on_from_the_horizon(h):
    with h.tx() as conn:
        changelog.set_horizon(conn, T, changelog.head(conn, T) + 7)
        horizon = changelog.horizon(conn, T)
        assert changelog.append(conn, T, entries(2)) == [horizon + 1, horizon + 2]


# -- compaction ------------------------------------------------------------------------------


def test_compaction_keeps_only_the_latest_change_of_each_record(h):
    account = h.w.ids["acc_n2"]
    for name in ("one", "two", "three"):
        h.write("account", account, Op.UPDATE, {"name": name})
    untouched = logged(h, "account", h.w.ids["acc_s1"])
    assert len(logged(h, "account", account)) == 4

    dropped = compact(h)

    assert dropped >= 3
    [latest] = logged(h, "account", account)
    assert latest.version == h.record("account", account).version == 4
    assert logged(h, "account", h.w.ids["acc_s1"]) == untouched
    assert compact(h) == 0  # nothing left to drop


def test_compaction_only_drops_changes_at_or_below_the_given_sequence(h):
    account = h.w.ids["acc_n2"]
    h.write("account", account, Op.UPDATE, {"name": "one"})
    h.write("account", account, Op.UPDATE, {"name": "two"})
    _imported, first, second = logged(h, "account", account)

    compact(h, before_seq=first.seq - 1)

    assert logged(h, "account", account) == [first, second]


def test_compaction_removes_the_scope_key_index_rows_of_dropped_changes(h):
    account = h.w.ids["acc_n2"]
    h.write("account", account, Op.UPDATE, {"name": "one"})
    dropped_seq = logged(h, "account", account)[0].seq
    compact(h)
    ck = T.change_key
    assert h.rows(ck, ck.c.seq == dropped_seq) == []


def test_a_device_behind_a_compacted_move_still_receives_the_eviction(h):
    account, contact = h.w.ids["acc_n1"], h.w.ids["contact_n1"]
    _, cursor = sync_as(h, "rep_n", None)
    # Moved to the south, then edited there: the latest changes no longer name the north.
    h.write("account", account, Op.UPDATE, {"territory_id": h.w.territories["S"]})
    h.write("account", account, Op.UPDATE, {"phone": "+33 4 91"})
    h.write("contact", contact, Op.UPDATE, {"title": "Owner"})
    north = f"territory:{h.w.territories['N']}"
    assert north not in logged(h, "account", account)[-1].keys

    compact(h)

    assert north in logged(h, "account", account)[-1].keys  # folded into the latest change
    assert north in logged(h, "contact", contact)[-1].keys
    changes, _ = sync_as(h, "rep_n", cursor)
    assert {("evict", "account", account), ("evict", "contact", contact)} <= seen(changes)
    assert not any(c["op"] == "put" and c["id"] in (account, contact) for c in changes)


def test_the_rep_in_the_new_territory_receives_the_moved_records_after_compaction(h):
    account = h.w.ids["acc_n1"]
    _, cursor = sync_as(h, "rep_s", None)
    h.write("account", account, Op.UPDATE, {"territory_id": h.w.territories["S"]})
    h.write("account", account, Op.UPDATE, {"phone": "+33 4 91"})
    compact(h)
    changes, _ = sync_as(h, "rep_s", cursor)
    [put] = [c for c in changes if c["id"] == account]
    assert put["op"] == "put" and put["data"]["phone"] == "+33 4 91"
    assert ("put", "contact", h.w.ids["contact_n1"]) in seen(changes)


def test_compaction_does_not_force_devices_to_reset(h):
    _, cursor = sync_as(h, "office", None)
    h.write("account", h.w.ids["acc_n2"], Op.UPDATE, {"name": "one"})
    h.write("account", h.w.ids["acc_n2"], Op.UPDATE, {"name": "two"})
    compact(h)
    changes, _ = sync_as(h, "office", cursor)
    [put] = [c for c in changes if c["id"] == h.w.ids["acc_n2"]]
    assert (put["version"], put["data"]["name"]) == (3, "two")


# -- truncation and the horizon ----------------------------------------------------------------


@pytest.mark.parametrize("step", [changelog.TRUNCATE_CHUNK, 2])
def test_truncation_deletes_old_changes_and_moves_the_horizon(h, monkeypatch, step):
    monkeypatch.setattr(changelog, "TRUNCATE_CHUNK", step)  # 2: the old changes in many steps
    old = utcnow() - timedelta(days=60)
    with h.tx() as conn:
        assert changelog.horizon(conn, T) == 0
        h.sync.write(conn, "account", h.w.ids["acc_n2"], Op.UPDATE, {"name": "old"}, now=old)
    old_seq = logged(h, "account", h.w.ids["acc_n2"])[-1].seq
    h.write("account", h.w.ids["acc_s1"], Op.UPDATE, {"name": "recent"})
    recent = logged(h, "account", h.w.ids["acc_s1"])[-1]
    with h.tx() as conn:
        expected = [c for c in changelog.read_after(conn, T, 0, None, 100_000)
                    if c.seq <= old_seq]

    with h.tx() as conn:
        deleted = changelog.truncate_before(conn, T, utcnow() - timedelta(days=30))
        horizon = changelog.horizon(conn, T)
        remaining = changelog.read_after(conn, T, 0, None, 100_000)
        ck = T.change_key
        keys_left = set(conn.execute(sa.select(ck.c.key, ck.c.seq)).all())

    assert horizon == old_seq
    assert deleted == len(expected)  # the world, logged before the old change, went too
    assert remaining == [recent]
    assert keys_left == {(key, recent.seq) for key in recent.keys}
    assert head(h) == recent.seq


def test_truncating_with_nothing_old_enough_changes_nothing(h):
    before = head(h)
    with h.tx() as conn:
        assert changelog.truncate_before(conn, T, utcnow() - timedelta(days=365)) == 0
        assert changelog.horizon(conn, T) == 0
    assert head(h) == before


def test_the_horizon_never_moves_back_and_head_never_falls_below_it(h):
    with h.tx() as conn:
        changelog.truncate_before(conn, T, utcnow() + timedelta(days=1))
        horizon = changelog.horizon(conn, T)
        changelog.set_horizon(conn, T, horizon - 1)
        assert changelog.horizon(conn, T) == horizon
        assert changelog.read_after(conn, T, 0, None, 10) == []
        assert changelog.head(conn, T) == horizon
        changelog.set_horizon(conn, T, horizon + 5)
        assert changelog.horizon(conn, T) == horizon + 5
