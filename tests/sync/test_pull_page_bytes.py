"""Pull pages are bounded in bytes as well as in records (finding 16.5: twelve accounts with
long notes made one page of 108 MiB). A page stops taking changes once their data passes
the budget, always takes at least one, and nothing is skipped, in the snapshot and in the
log alike."""

from __future__ import annotations

import json

import pytest

from server.extensions import db
from sync.database import read_transaction
from sync.protocol import Op
from tests.sync.harness import Harness, uid

BUDGET = 50_000
NOTE = 9_000  # characters: five to six records per page


@pytest.fixture
def h(app):
    harness = Harness(app)
    harness.sync.page_bytes = BUDGET
    return harness


def _keys(h: Harness) -> set[str]:
    return {f"territory:{h.w.territories['N']}"}


def _pull_pages(h: Harness, cursor=None, limit=1000) -> tuple[list[list[dict]], str]:
    pages = []
    for _ in range(1000):
        with h.app.app_context(), read_transaction(db.engine) as conn:
            page = h.sync.pull(conn, _keys(h), cursor, limit)
        pages.append([json.loads(c) for c in page.changes])
        cursor = page.cursor
        if not page.more:
            return pages, cursor
    raise AssertionError("the pull never caught up")


def _size(changes: list[dict]) -> int:
    return sum(len(json.dumps(c.get("data"), ensure_ascii=False).encode()) for c in changes)


def _accounts(h: Harness, count: int, char: str = "n") -> list[str]:
    ids = [uid() for _ in range(count)]
    for record_id in ids:
        h.write("account", record_id, Op.CREATE, {
            "territory_id": h.w.territories["N"], "name": "Long notes", "notes": char * NOTE})
    return ids


def _puts(pages: list[list[dict]]) -> dict[str, int]:
    return {c["id"]: c["version"] for page in pages for c in page if c["op"] == "put"}


def test_a_first_sync_of_many_large_records_comes_in_several_bounded_pages(h):
    ids = _accounts(h, 30, "é")  # two bytes each: the budget counts bytes, not characters
    pages, _ = _pull_pages(h)
    assert len(pages) >= 30 * NOTE * 2 // BUDGET
    assert set(ids) <= set(_puts(pages))
    for page in pages[:-1]:  # the last, the log after the snapshot, may be empty
        assert page and _size(page[:-1]) <= BUDGET


def test_changes_to_many_large_records_come_in_several_bounded_pages_and_none_is_missed(h):
    ids = _accounts(h, 10)
    _, cursor = _pull_pages(h)
    for record_id in ids * 2:  # two changes each: the page sends each record once
        current = h.record("account", record_id)
        h.write("account", record_id, Op.UPDATE, {"notes": "u" * NOTE + str(current.version)})
    pages, _ = _pull_pages(h, cursor)
    assert len(pages) >= 10 * NOTE // BUDGET
    assert _puts(pages) == {record_id: 3 for record_id in ids}
    for page in pages:
        assert _size(page[:-1]) <= BUDGET
        assert len({c["id"] for c in page}) == len(page)


def test_a_record_larger_than_the_budget_still_comes_alone_in_its_page(h):
    h.sync.page_bytes = 1_000
    ids = _accounts(h, 3)
    pages, cursor = _pull_pages(h)
    assert set(ids) <= set(_puts(pages))
    assert all(_size(page[:-1]) <= 1_000 for page in pages)
    h.write("account", ids[1], Op.UPDATE, {"notes": "changed" * 1000})
    h.write("account", ids[2], Op.UPDATE, {"notes": "changed" * 1000})
    pages, _ = _pull_pages(h, cursor)
    assert _puts(pages) == {ids[1]: 2, ids[2]: 2}
    assert [len(page) for page in pages] == [1, 1]


def test_a_snapshot_sweeping_several_keys_misses_nothing_when_pages_end_between_them(h):
    both = {f"territory:{h.w.territories['N']}", f"territory:{h.w.territories['S']}"}
    ids = []
    for territory in ("N", "S"):
        for _ in range(7):
            ids.append(uid())
            h.write("account", ids[-1], Op.CREATE, {
                "territory_id": h.w.territories[territory], "name": "A", "notes": "s" * NOTE})
    received, cursor = {}, None
    for _ in range(100):
        with h.app.app_context(), read_transaction(db.engine) as conn:
            page = h.sync.pull(conn, both, cursor, 1000)
        received.update((c["id"], c) for c in map(json.loads, page.changes))
        cursor = page.cursor
        if not page.more:
            break
    assert set(ids) <= set(received)
