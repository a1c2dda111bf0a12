"""GET /conflicts and GET /rejections page newest first with a cursor, clamp their page size,
filter, and refuse malformed query parameters with 4xx (issue 15)."""

from __future__ import annotations

import pytest

from sync.paging import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, page_limit
from tests.device import Device
from tests.helpers import bearer
from tests.server.test_errors import assert_error
from tests.world import build_world

CONFLICTS = "/api/v1/conflicts"
REJECTIONS = "/api/v1/rejections"


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def office(client, world):
    return Device(client, world.user("office"))


@pytest.fixture
def rep(client, world):
    return Device(client, world.user("rep_n"))


def notes_conflicts(client, world, office, rep, count: int) -> None:
    client.patch(f"/api/v1/records/account/{world.ids['acc_n1']}", json={"notes": "office"},
                 headers=bearer(office.token))
    for n in range(count):
        [result] = rep.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                             "base_version": 1, "fields": {"notes": f"rep {n}"},
                             "base": {"notes": None}})
        assert result["status"] == "conflict"


def out_of_scope_updates(world, rep, count: int) -> None:
    for n in range(count):
        [result] = rep.push({"entity": "account", "id": world.ids["acc_s1"], "op": "update",
                             "base_version": 1, "fields": {"name": f"Mine {n}"}})
        assert result["error"]["code"] == "out_of_scope"


def all_pages(client, device, path: str, limit: int) -> list[list[dict]]:
    pages, after = [], None
    for _ in range(10):
        query = f"{path}?limit={limit}" + (f"&after={after}" if after else "")
        body = client.get(query, headers=bearer(device.token)).get_json()
        pages.append(body["items"])
        after = body["next"]
        if after is None:
            return pages
    raise AssertionError("the pages never ended")


def test_conflicts_page_newest_first_with_a_cursor(client, world, office, rep):
    notes_conflicts(client, world, office, rep, 3)
    pages = all_pages(client, office, CONFLICTS, 2)
    assert [len(p) for p in pages] == [2, 1]
    mutation_ids = [c["mutation_id"] for page in pages for c in page]
    assert mutation_ids == [3, 2, 1]


def test_rejections_page_newest_first_with_a_cursor(client, world, office, rep):
    out_of_scope_updates(world, rep, 3)
    pages = all_pages(client, rep, REJECTIONS, 1)
    assert [len(p) for p in pages] == [1, 1, 1, 0]
    assert [r["mutation_id"] for page in pages for r in page] == [3, 2, 1]


def test_a_page_size_beyond_the_maximum_is_clamped(client, world, office, rep):
    notes_conflicts(client, world, office, rep, 1)
    body = client.get(f"{CONFLICTS}?limit=100000", headers=bearer(office.token)).get_json()
    assert (len(body["items"]), body["next"]) == (1, None)
    assert (page_limit(100000), page_limit(0), page_limit(None)) == (
        MAX_PAGE_LIMIT, 1, DEFAULT_PAGE_LIMIT)


def test_conflicts_filter_by_device_and_mutation_ids(client, world, office, rep):
    notes_conflicts(client, world, office, rep, 3)
    query = f"{CONFLICTS}?device_id={rep.device_id}&mutation_id=1&mutation_id=3"
    items = client.get(query, headers=bearer(rep.token)).get_json()["items"]
    assert sorted(c["mutation_id"] for c in items) == [1, 3]
    other = f"{CONFLICTS}?device_id={office.device_id}"
    assert client.get(other, headers=bearer(office.token)).get_json()["items"] == []


def test_rejections_filter_by_code_and_record(client, world, office, rep):
    out_of_scope_updates(world, rep, 2)
    query = f"{REJECTIONS}?code=out_of_scope&record_id={world.ids['acc_s1']}"
    assert len(client.get(query, headers=bearer(office.token)).get_json()["items"]) == 2
    query = f"{REJECTIONS}?code=forbidden"
    assert client.get(query, headers=bearer(office.token)).get_json()["items"] == []


@pytest.mark.parametrize("query", ["status=bogus", "record_id=nope", "device_id=x",
                                   "limit=many", "entity=spaceship", "kind=bogus",
                                   "mutation_id=-1", "mutation_id=99999999999999999999"])
def test_malformed_conflict_filters_answer_422(client, office, query):
    response = client.get(f"{CONFLICTS}?{query}", headers=bearer(office.token))
    assert_error(response, 422, "validation_failed")


@pytest.mark.parametrize("path", [CONFLICTS, REJECTIONS])
@pytest.mark.parametrize("after", ["garbage", "MjAyNi0wMS0wMXx4"])
def test_a_forged_page_cursor_answers_400_invalid_cursor(client, office, path, after):
    response = client.get(f"{path}?after={after}", headers=bearer(office.token))
    assert_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize("path", [CONFLICTS, REJECTIONS])
@pytest.mark.parametrize("query", ["after=%00", "entity=%00", "record_id=%00"])
def test_a_nul_byte_in_any_query_argument_answers_400_bad_request(client, office, path, query):
    # docs/protocol.md §2: NUL is refused in every query argument before the view runs
    response = client.get(f"{path}?{query}", headers=bearer(office.token))
    assert_error(response, 400, "bad_request")


def test_a_conflict_id_that_is_not_a_uuid_answers_404(client, office):
    for path in (f"{CONFLICTS}/%00", f"{CONFLICTS}/nope"):
        assert_error(client.get(path, headers=bearer(office.token)), 404, "not_found")
