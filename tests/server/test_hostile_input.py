"""Inputs a stranger or any signed-in user can send never fail the server (issue 16, findings
4 and 6): each gets a 4xx in the one error shape, or a per-mutation rejection. Run on both
backends; PostgreSQL refuses NUL characters in text, SQLite takes them, and both must answer
the same."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from server.models import Role
from sync.protocol import PROTOCOL_VERSION
from tests.device import Device
from tests.helpers import bearer, create_user
from tests.server.test_errors import assert_error
from tests.world import build_world, uid

PUSH = "/api/v1/sync/push"
INT64_MAX = 2**63 - 1


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def admin(app, client):
    """An admin's device; the tests that need records ask for the world as well."""
    return Device(client, create_user(app, role=Role.ADMIN))


def batch(*mutations: dict) -> dict:
    return {"protocol": PROTOCOL_VERSION, "mutations": list(mutations)}


def territory(mutation_id: int = 1, **changes) -> dict:
    return {"mutation_id": mutation_id, "entity": "territory", "id": uid(), "op": "create",
            "fields": {"code": "EAST", "name": "East"}, **changes}


def post_raw(client, path: str, text: str | bytes, token: str | None = None):
    headers = bearer(token) if token else {}
    return client.post(path, data=text, content_type="application/json", headers=headers)


# -- field names that are also Python parameter names ---------------------------------------

@pytest.mark.parametrize("fields", [
    {}, {"code": 1}, {"code": None, "name": "East"},
    {"code": "E", "name": "East", "message": 1, "self": 2, "class": 3, "fields": 4},
])
def test_a_territory_with_fields_named_like_python_parameters_is_rejected_naming_them(
        admin, fields):
    [result] = admin.push({"entity": "territory", "id": uid(), "op": "create",
                           "fields": fields})
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "validation_failed"
    assert set(result["error"]["fields"]) & {"code", "message", "self", "class", "fields"}


def test_a_device_whose_mutation_was_rejected_for_its_code_field_keeps_syncing(admin):
    bad = territory(1, fields={"code": 1})
    first = admin.post(PUSH, batch(bad))
    again = admin.post(PUSH, batch(bad, territory(2)))
    assert first.status_code == again.status_code == 200
    rejected, applied = again.get_json()["results"]
    assert rejected == first.get_json()["results"][0]
    assert applied["status"] == "applied"


# -- mutation ids outside 1 .. 2^63-1 --------------------------------------------------------

def test_a_mutation_id_outside_the_protocol_range_refuses_the_batch_naming_it(admin):
    for mutation_id in [INT64_MAX + 1, 2**64, 10**30, 0, -1, -(2**63), True, 1.0, 1.5, "1",
                        None]:
        response = admin.post(PUSH, batch(territory(1), territory(mutation_id)))
        error = assert_error(response, 422, "validation_failed")
        assert "mutation_id" in error["fields"]["mutations"]["1"], mutation_id


def test_the_largest_mutation_id_is_taken(admin):
    [result] = admin.post(PUSH, batch(territory(INT64_MAX))).get_json()["results"]
    assert (result["mutation_id"], result["status"]) == (INT64_MAX, "applied")


@pytest.mark.parametrize("base_version", [INT64_MAX + 1, -(2**63) - 1, 10**30, 0])
def test_a_base_version_beyond_any_version_rejects_that_mutation(admin, world, base_version):
    [result] = admin.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                           "base_version": base_version, "fields": {"notes": "x"}})
    assert (result["status"], result["error"]["code"]) == ("rejected", "invalid_base_version")


# -- bodies nested deeper than anyone means -------------------------------------------------

def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_body_nested_too_deep_answers_400_on_every_json_endpoint(client, admin):
    for levels in (100_000, 1_000, 65):
        for path in (PUSH, "/api/v1/sync/pull", "/api/v1/records/account",
                     "/api/v1/auth/login", "/api/v1/admin/users"):
            response = post_raw(client, path, deep(levels), admin.token)
            assert_error(response, 400, "malformed_json")


def test_a_mutation_field_nested_too_deep_refuses_the_batch(client, admin):
    for levels in (100_000, 900, 62):
        text = (f'{{"protocol": 1, "mutations": [{{"mutation_id": 1, "entity": "territory", '
                f'"id": "{uid()}", "op": "create", "fields": {{"code": {deep(levels)}}}}}]}}')
        assert_error(post_raw(client, PUSH, text, admin.token), 400, "malformed_json")


def test_a_mutation_field_nested_a_little_is_rejected_alone(admin):
    [result] = admin.push({"entity": "territory", "id": uid(), "op": "create",
                           "fields": {"code": [[["E"]]], "name": {"a": {"b": 1}}}})
    assert result["error"]["code"] == "validation_failed"
    assert set(result["error"]["fields"]) == {"code", "name"}


# -- text no database can store --------------------------------------------------------------

def test_a_nul_character_at_login_answers_422_naming_the_field(app, client):
    rep = create_user(app, role=Role.REP)
    for field in ("email", "password", "device_name"):
        body = {"email": rep.email, "password": rep.password, "device_name": "laptop"}
        body[field] = f"a\u0000{body[field]}"
        error = assert_error(client.post("/api/v1/auth/login", json=body), 422,
                             "validation_failed")
        assert set(error["fields"]) == {field}


def test_a_nul_character_in_a_pushed_field_rejects_that_mutation_alone(admin, world):
    nul, good = admin.push(
        {"entity": "account", "id": world.ids["acc_n1"], "op": "update", "base_version": 1,
         "fields": {"notes": "before\u0000after"}},
        {"entity": "territory", "id": uid(), "op": "create",
         "fields": {"code": "EAST", "name": "East"}})
    assert (nul["status"], nul["error"]["code"]) == ("rejected", "validation_failed")
    assert "notes" in nul["error"]["fields"]
    assert good["status"] == "applied"


def test_a_nul_character_in_a_pushed_field_name_or_base_is_harmless(admin, world):
    [result] = admin.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                           "base_version": 1, "fields": {"no\u0000tes": "x"},
                           "base": {"notes": "\u0000"}})
    assert result["error"]["code"] == "validation_failed"


def test_a_nul_character_in_a_mutations_envelope_refuses_the_batch(admin):
    for key in ("entity", "id", "hlc", "op"):
        mutation = territory(1)
        mutation[key] = f"{mutation.get(key) or ''}\u0000"
        error = assert_error(admin.post(PUSH, batch(mutation)), 422, "validation_failed")
        assert key in error["fields"]["mutations"]["0"]


def test_a_nul_character_in_a_records_api_body_answers_422(client, admin, world):
    response = client.post("/api/v1/records/territory", json={"code": "E\u0000", "name": "E"},
                           headers=bearer(admin.token))
    assert "code" in assert_error(response, 422, "validation_failed")["fields"]


def test_a_nul_character_or_a_non_uuid_in_a_path_answers_404(client, admin):
    for path in ["/api/v1/conflicts/%00", "/api/v1/conflicts/a%00b",
                 "/api/v1/records/account/%00", f"/api/v1/records/account/{uid()}%00",
                 "/api/v1/records/%00", "/api/v1/records/%00/%00", "/api/v1/conflicts/nope",
                 "/api/v1/records/account/nope", f"/api/v1/admin/users/{uid()}%00"]:
        assert_error(client.get(path, headers=bearer(admin.token)), 404, "not_found")
    response = client.post("/api/v1/conflicts/%00/override", json={"choose": "server"},
                           headers=bearer(admin.token))
    assert_error(response, 404, "not_found")


def test_a_nul_character_in_a_query_answers_400_naming_the_parameter(client, admin):
    for query, parameter in [
            ("/api/v1/conflicts?entity=%00", "entity"), ("/api/v1/conflicts?status=%00", "status"),
            ("/api/v1/conflicts?record_id=%00", "record_id"),
            ("/api/v1/rejections?device_id=%00", "device_id"),
            ("/api/v1/records/account?after=%00", "after"), ("/api/v1/conflicts?%00=1", "\x00"),
            ("/api/v1/admin/devices?user_id=%00", "user_id"),
            ("/api/v1/records/account?limit=1%00", "limit")]:
        error = assert_error(client.get(query, headers=bearer(admin.token)), 400,
                             "bad_request")
        assert set(error["fields"]) == {parameter}


def test_a_non_uuid_id_filter_answers_422_naming_it(client, admin):
    for query, parameter in [("/api/v1/conflicts?record_id=nope", "record_id"),
                             ("/api/v1/rejections?device_id=1234", "device_id"),
                             ("/api/v1/admin/devices?user_id=nope", "user_id")]:
        error = assert_error(client.get(query, headers=bearer(admin.token)), 422,
                             "validation_failed")
        assert parameter in error["fields"]


def test_a_nul_character_in_an_admin_body_answers_422(client, admin):
    response = client.post("/api/v1/admin/users", headers=bearer(admin.token), json={
        "email": "new@example.test", "name": "New\u0000", "role": "rep",
        "password": "correct-horse-battery"})
    assert "name" in assert_error(response, 422, "validation_failed")["fields"]


# -- malformed text -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    '{"email": "\\ud800", "password": "x", "device_name": "d"}',
    '{"email": "a", "password": "\\udfff\\ud800", "device_name": "d"}',
    '{"email": "a", "password": NaN, "device_name": "d"}',
    '{"email": "a", "password": 1e400, "device_name": "d"}',
    '{"email": "a", "password": -Infinity, "device_name": "d"}',
    b'{"email": "\xff\xfe", "password": "x", "device_name": "d"}',
    b'{"email": "\xed\xa0\x80", "password": "x", "device_name": "d"}',
    '{"email": "a", "password": "x", "device_name": "d"',
    "", "null",
])
def test_a_body_that_is_not_interoperable_json_answers_400(client, text):
    assert_error(post_raw(client, "/api/v1/auth/login", text), 400, "malformed_json")


def test_a_lone_surrogate_in_a_pushed_field_refuses_the_batch(client, admin, world):
    text = (f'{{"protocol": 1, "mutations": [{{"mutation_id": 1, "entity": "account", '
            f'"id": "{world.ids["acc_n1"]}", "op": "update", "base_version": 1, '
            f'"fields": {{"notes": "\\ud83d"}}}}]}}')
    assert_error(post_raw(client, PUSH, text, admin.token), 400, "malformed_json")


def test_a_surrogate_pair_is_a_character_like_any_other(admin, world):
    [result] = admin.push({"entity": "account", "id": world.ids["acc_n1"], "op": "update",
                           "base_version": 1, "fields": {"notes": "\U0001f600"}})
    assert result["record"]["data"]["notes"] == "\U0001f600"


def test_a_body_that_is_not_an_object_answers_422(client, admin):
    for body in ([], "x", 1, True, [{"protocol": 1}]):
        for path in (PUSH, "/api/v1/sync/pull", "/api/v1/auth/login", "/api/v1/auth/refresh",
                     "/api/v1/admin/users", "/api/v1/records/account"):
            response = client.post(path, json=body, headers=bearer(admin.token))
            assert_error(response, 422, "validation_failed")


# -- UUIDs in other spellings (finding 6) ----------------------------------------------------

def spellings(record_id: str) -> list[str]:
    return [record_id.upper(), record_id.replace("-", ""), record_id[:8].upper() + record_id[8:]]


def test_a_create_with_a_non_canonical_id_is_rejected_and_stores_nothing(client, admin):
    record_id = uid()
    results = admin.push(*[{"entity": "territory", "id": spelling, "op": "create",
                            "fields": {"code": f"E{n}", "name": "East"}}
                           for n, spelling in enumerate(spellings(record_id))])
    assert {(r["status"], r["error"]["code"]) for r in results} == {
        ("rejected", "validation_failed")}
    assert all("id" in r["error"]["fields"] for r in results)
    response = client.get(f"/api/v1/records/territory/{record_id}",
                          headers=bearer(admin.token))
    assert_error(response, 404, "not_found")


def test_an_update_with_an_uppercase_id_is_rejected_and_changes_nothing(client, admin, world):
    record_id = world.ids["acc_n1"]
    [result] = admin.push({"entity": "account", "id": record_id.upper(), "op": "update",
                           "base_version": 1, "fields": {"notes": "upper"}})
    assert result["error"]["code"] == "validation_failed"
    listed = client.get("/api/v1/records/account?limit=500", headers=bearer(admin.token))
    assert [r["data"]["notes"] for r in listed.get_json()["items"]
            if r["id"].lower() == record_id] == [None]


def test_the_records_api_finds_a_record_by_its_uppercase_id(client, admin, world):
    record_id = world.ids["acc_n1"]
    response = client.get(f"/api/v1/records/account/{record_id.upper()}",
                          headers=bearer(admin.token))
    assert response.status_code == 200
    assert response.get_json()["id"] == record_id
    patched = client.patch(f"/api/v1/records/account/{record_id.upper()}",
                           json={"notes": "via upper"}, headers=bearer(admin.token))
    assert patched.get_json()["id"] == record_id
    assert patched.get_json()["data"]["notes"] == "via upper"


def test_a_reference_in_another_spelling_is_stored_canonical(admin, world):
    territory_id = world.territories["N"]
    [result] = admin.push({"entity": "account", "id": uid(), "op": "create",
                           "fields": {"territory_id": territory_id.upper(), "name": "Upper"}})
    assert result["status"] == "applied"
    assert result["record"]["data"]["territory_id"] == territory_id


def test_a_conflict_and_a_filter_are_found_by_an_uppercase_id(client, world):
    rep, office = Device(client, world.user("rep_n")), Device(client, world.user("office"))
    record_id = world.ids["acc_n1"]
    client.patch(f"/api/v1/records/account/{record_id}", json={"notes": "office"},
                 headers=bearer(office.token))
    rep.push({"entity": "account", "id": record_id, "op": "update", "base_version": 1,
              "fields": {"notes": "rep"}, "base": {"notes": None}})
    listed = client.get(f"/api/v1/conflicts?record_id={quote(record_id.upper())}",
                        headers=bearer(office.token)).get_json()["items"]
    assert [c["record_id"] for c in listed] == [record_id]
    one = client.get(f"/api/v1/conflicts/{listed[0]['id'].upper()}",
                     headers=bearer(office.token))
    assert one.get_json()["id"] == listed[0]["id"]
