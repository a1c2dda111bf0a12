"""Property: whatever a client sends to any endpoint, the server answers below 500, and every
error has the one JSON shape with a known code and that code's status (issue 16).

Inputs mix the plausible with the hostile: NUL characters, lone surrogates, odd Unicode, huge
and negative integers, wrong types, deep nesting, invalid UTF-8, and field names that are
Python keywords or parameter names. Requests go through the Flask test client in-process,
on SQLite or PostgreSQL as the suite runs. FIELDSYNC_FUZZ_EXAMPLES sets the examples per
endpoint group (default 40, the same ones every run; set it, e.g. to 2000, for a longer hunt
with new examples each time).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain import REGISTRY
from server.errors import STATUS
from sync.errors import ErrorCode
from tests.device import Device
from tests.helpers import bearer
from tests.world import World, build_world

# The normal suite runs the same examples every time; a longer hunt draws new ones.
EXAMPLES = int(os.environ.get("FIELDSYNC_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize="FIELDSYNC_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# -- values ---------------------------------------------------------------------------------

PYTHON_NAMES = ["code", "message", "fields", "self", "cls", "class", "def", "lambda", "None",
                "kwargs", "args", "return", "import", "__class__", "__init__", "__proto__",
                "status", "entity", "op", "id", "data", "partial", "values", "value", ""]
ODD_TEXT = ["\x00", "a\x00b", "\U0001f600", "\u202e", "\ufeff", "\u0301", " ", "A" * 300,
            "%00", "\\u0000", "'; drop table users; --", "\n\t", "\x7f\x1b"]
# Any Unicode but lone surrogates: those refuse a body whole, before anything behind it, so
# they come in the raw bodies below.
texts = st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXT))
numbers = st.one_of(st.integers(-3, 3), st.sampled_from(
    [2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
keys = st.one_of(st.sampled_from(PYTHON_NAMES), texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)), max_leaves=8)


def either(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, json_values)


def seldom_odd(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Plausible values, once in a while anything at all: for the envelope around the
    hostile part, so that most requests reach the code behind it."""
    return st.one_of(*[plausible] * 19, json_values)


def ids(known: list[str]) -> st.SearchStrategy:
    """Known ids (sometimes spelt otherwise), new ones, or any text."""
    spelled = st.sampled_from(known).flatmap(
        lambda i: st.sampled_from([i, i, i, i.upper(), i.replace("-", ""), i + "\x00"]))
    return st.one_of(spelled, spelled, st.uuids().map(str), texts)


# Raw bodies no JSON encoder writes: deep nesting, invalid UTF-8, non-standard numbers.
RAW = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 70 + b"1" + b"}" * 70, b"\xff\xfe{}",
       b'{"x": NaN}', b'{"x": 1e400}', b'{"x": -Infinity}', b'{"x": "\xed\xa0\x80"}',
       b"", b"null", b"{", b'{"x": "\\ud800"}', b'{"\\udfff\\ud800": 1}', b"\xef\xbb\xbf{}",
       b'{"a":1,"a":2}', b'{"protocol": 1, "mutations": [{"mutation_id": 1, "entity": '
       b'"territory", "id": "\\ud800", "op": "create", "fields": {"code": "\\udc00"}}]}']
DEEP = "\x01deep\x01"  # a string replaced by deeply nested JSON once encoded


def encode(body) -> bytes:
    text = json.dumps(body)  # ensure_ascii: NUL and lone surrogates travel as escapes
    return text.replace(json.dumps(DEEP), "[" * 2000 + "]" * 2000).encode()


def bodies(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the plausible body encoded; else any JSON value, a raw oddity, deep nesting."""
    return st.one_of(*[plausible.map(encode)] * 6, json_values.map(encode),
                     st.sampled_from(RAW), st.just(DEEP).map(encode))


def query(params: st.SearchStrategy) -> st.SearchStrategy:
    """A query string: the plausible arguments, their values sometimes odd bytes."""
    def pairs(mapping):
        return "&".join(f"{quote(k)}={_quoted(v)}" for k, v in mapping.items())
    return st.one_of(params.map(pairs), st.just("%FF=%FE&x=%00"))


def _quoted(value) -> str:
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


# -- the checks -----------------------------------------------------------------------------

def assert_sound(response) -> None:
    """Below 500; an error has the one shape, a known code, and that code's status."""
    status = response.status_code
    assert status < 500, response.get_data(as_text=True)[:500]
    if status < 400:
        return
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and set(body) == {"error"}, response.data[:300]
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["message"], str) and isinstance(error["fields"], dict)
    assert STATUS.get(ErrorCode(error["code"]), status) == status, (error, status)


@dataclass
class Fuzz:
    client: object
    world: World
    tokens: dict[str, str]
    last_mutation_id: int = 0

    def fresh(self, mutation: dict) -> dict:
        """`mutation` with a mutation id above every earlier one where it asks for NEXT:
        a lower id would only be answered from the receipts, never applied."""
        if mutation.get("mutation_id") == NEXT:
            self.last_mutation_id += 1
            return {**mutation, "mutation_id": self.last_mutation_id}
        return mutation

    def send(self, method: str, path: str, who: str, body: bytes | None = None,
             content_type: str = "application/json"):
        headers = bearer(self.tokens[who]) if who in self.tokens else {}
        if who == "garbage":
            headers = {"Authorization": "Bearer \x00.\x00.\x00"}
        response = self.client.open(path, method=method, data=body, headers=headers,
                                    content_type=content_type if body is not None else None)
        assert_sound(response)
        return response


@pytest.fixture
def fuzz(app, client):
    world = build_world(app)
    tokens = {name: Device(client, world.user(name), name="fuzz").token
              for name in ("admin", "office", "rep_n", "tech_a")}
    return Fuzz(client, world, tokens)


WHO = st.sampled_from(["admin", "office", "rep_n", "tech_a", "nobody", "garbage"])
ENTITIES = sorted(spec.name for spec in REGISTRY)
FIELD_NAMES = sorted({name for spec in REGISTRY for name in spec.codec.schema.fields})
entity_names = either(st.sampled_from(ENTITIES))
record_fields = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), st.sampled_from(PYTHON_NAMES), keys),
    either(scalars), max_size=5)


def known_ids(fuzz: Fuzz) -> list[str]:
    return [*fuzz.world.ids.values(), *fuzz.world.territories.values()]


# -- auth -----------------------------------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_no_input_fails_the_auth_endpoints(fuzz, data):
    email = st.sampled_from([u.email for u in fuzz.world.users.values()])
    login = st.fixed_dictionaries({}, optional={
        "email": either(email), "password": either(texts), "device_name": either(texts),
        "code": json_values})
    path, plausible = data.draw(st.sampled_from([
        ("/api/v1/auth/login", login),
        ("/api/v1/auth/refresh", st.fixed_dictionaries({"refresh_token": either(texts)})),
    ]))
    fuzz.send("POST", path, "nobody", data.draw(bodies(plausible)))
    fuzz.send("GET", "/api/v1/auth/me", data.draw(WHO))


# -- sync -----------------------------------------------------------------------------------

NEXT = "\x01next\x01"  # the device's next mutation id


def mutations(fuzz: Fuzz, envelope) -> st.SearchStrategy:
    """Mutations whose envelope keys are drawn through `envelope` (plain, or odd at times),
    with odd fields and bases."""
    known = known_ids(fuzz)
    return st.fixed_dictionaries({
        "mutation_id": envelope(st.just(NEXT)),
        "entity": envelope(st.sampled_from(ENTITIES)),
        "id": envelope(st.one_of(st.sampled_from(known), st.uuids().map(str))),
        "op": envelope(st.sampled_from(["create", "update", "delete"])),
    }, optional={
        "base_version": envelope(st.integers(0, 3)), "fields": either(record_fields),
        "base": either(record_fields),
        "hlc": envelope(st.sampled_from([None, "1700000000000-0000-dev"])),
    })


def _push(fuzz: Fuzz, data, envelope, body) -> None:
    batch = st.lists(mutations(fuzz, envelope), max_size=4).map(
        lambda ms: [fuzz.fresh(m) for m in ms])
    push = st.fixed_dictionaries({"protocol": envelope(st.just(1)), "mutations": batch})
    who = data.draw(st.sampled_from(["admin", "office", "rep_n", "tech_a"]))
    fuzz.send("POST", "/api/v1/sync/push", who, data.draw(body(push)))


@FUZZ
@given(data=st.data())
def test_no_field_value_fails_a_push(fuzz, data):
    """A well-formed batch whose fields and bases are anything: rejected per mutation."""
    _push(fuzz, data, lambda plain: plain, lambda push: push.map(encode))


@FUZZ
@given(data=st.data())
def test_no_input_fails_a_push(fuzz, data):
    _push(fuzz, data, either, bodies)


@FUZZ
@given(data=st.data())
def test_no_input_fails_a_pull(fuzz, data):
    pull = st.fixed_dictionaries({"protocol": either(st.just(1))}, optional={
        "cursor": either(st.none()), "limit": either(st.integers(1, 5000))})
    fuzz.send("POST", "/api/v1/sync/pull", data.draw(WHO), data.draw(bodies(pull)))
    fuzz.send("GET", "/api/v1/sync/entities", data.draw(WHO))


# -- records, conflicts, rejections ---------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_no_input_fails_the_records_api(fuzz, data):
    entity = quote(data.draw(entity_names.map(str)).encode("utf-8", "surrogatepass"), safe="")
    record = _quoted(data.draw(ids(known_ids(fuzz))))
    who = data.draw(st.sampled_from(["admin", "office", "rep_n", "garbage"]))
    args = data.draw(query(st.fixed_dictionaries({}, optional={
        "after": either(ids(known_ids(fuzz))), "limit": either(st.integers(1, 500))})))
    method, path, body = data.draw(st.sampled_from([
        ("GET", f"/api/v1/records/{entity}?{args}", None),
        ("GET", f"/api/v1/records/{entity}/{record}", None),
        ("POST", f"/api/v1/records/{entity}", bodies(record_fields)),
        ("PATCH", f"/api/v1/records/{entity}/{record}", bodies(record_fields)),
        ("DELETE", f"/api/v1/records/{entity}/{record}", None),
    ]))
    fuzz.send(method, path, who, data.draw(body) if body is not None else None)


@pytest.fixture
def conflict_id(fuzz) -> str:
    """An open conflict to look up and override."""
    client, world = fuzz.client, fuzz.world
    account = world.ids["acc_n1"]
    client.patch(f"/api/v1/records/account/{account}", json={"notes": "office"},
                 headers=bearer(fuzz.tokens["office"]))
    response = client.post("/api/v1/sync/push", headers=bearer(fuzz.tokens["rep_n"]), json={
        "protocol": 1, "mutations": [{"mutation_id": 1, "entity": "account", "id": account,
                                      "op": "update", "base_version": 1,
                                      "fields": {"notes": "rep"}, "base": {"notes": None}}]})
    [result] = response.get_json()["results"]
    assert result["conflicts"][0]["open"]
    listed = client.get("/api/v1/conflicts?status=open", headers=bearer(fuzz.tokens["office"]))
    return listed.get_json()["items"][0]["id"]


@FUZZ
@given(data=st.data())
def test_no_input_fails_the_conflict_and_rejection_endpoints(fuzz, conflict_id, data):
    known = [conflict_id, *known_ids(fuzz)]
    target = _quoted(data.draw(ids(known)))
    args = data.draw(query(st.fixed_dictionaries({}, optional={
        "status": either(st.sampled_from(["open", "resolved", "overridden"])),
        "entity": entity_names, "record_id": either(ids(known)),
        "device_id": either(ids(known)), "limit": either(st.integers(1, 500))})))
    override = st.fixed_dictionaries({"choose": either(st.sampled_from(
        ["server", "client", "value"]))}, optional={"value": json_values})
    method, path, body = data.draw(st.sampled_from([
        ("GET", f"/api/v1/conflicts?{args}", None),
        ("GET", f"/api/v1/conflicts/{target}", None),
        ("POST", f"/api/v1/conflicts/{target}/override", bodies(override)),
        ("GET", f"/api/v1/rejections?{args}", None),
    ]))
    fuzz.send(method, path, data.draw(WHO), data.draw(body) if body is not None else None)


# -- administration -------------------------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_no_input_fails_the_admin_endpoints(fuzz, data):
    # never the admin's own id: a new password would sign the fuzzing admin out
    others = [u.id for name, u in fuzz.world.users.items() if name != "admin"]
    target = _quoted(data.draw(st.one_of(ids(others), st.uuids().map(str))))
    user = st.fixed_dictionaries({}, optional={
        "email": either(st.emails()), "name": either(texts),
        "role": either(st.sampled_from(["rep", "technician", "admin", "back_office"])),
        "password": either(texts), "territory_codes": either(st.lists(texts, max_size=2)),
        "active": either(st.booleans()), "code": json_values, "self": json_values})
    args = data.draw(query(st.fixed_dictionaries({}, optional={
        "user_id": either(ids(others)), "revoked": either(st.booleans())})))
    method, path, body = data.draw(st.sampled_from([
        ("GET", "/api/v1/admin/users", None),
        ("GET", f"/api/v1/admin/users/{target}", None),
        ("POST", "/api/v1/admin/users", bodies(user)),
        ("PATCH", f"/api/v1/admin/users/{target}", bodies(user)),
        ("GET", f"/api/v1/admin/devices?{args}", None),
        ("POST", f"/api/v1/admin/devices/{_quoted(uuid.uuid4())}/revoke", None),
    ]))
    who = data.draw(st.sampled_from(["admin", "office", "rep_n", "garbage"]))
    fuzz.send(method, path, who, data.draw(body) if body is not None else None)
