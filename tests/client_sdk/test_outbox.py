"""The outbox hands a push its mutations as wire JSON built by SQLite; it must be exactly what
`Mutation.to_wire()` says, for any values an app may store."""

from __future__ import annotations

import json
import uuid

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk import SyncClient
from client_sdk.api import Api
from client_sdk.store import LocalStore
from sync.protocol import PROTOCOL_VERSION, Mutation, Op

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)), max_leaves=8)
mutations = st.builds(
    Mutation, mutation_id=st.integers(1, 2**40), entity=st.sampled_from(["account", "visit"]),
    record_id=st.text(min_size=1), op=st.sampled_from(list(Op)),
    base_version=st.none() | st.integers(1, 2**31), fields=st.dictionaries(st.text(), values),
    base=st.dictionaries(st.text(), values), hlc=st.none() | st.text())


@settings(max_examples=200, deadline=None)
@given(mutation=mutations)
def test_the_outbox_gives_a_push_each_mutation_in_its_exact_wire_form(mutation):
    store = LocalStore(":memory:")
    with store.transaction() as db:
        store.enqueue(db, mutation, None)
    [(mutation_id, wire)] = store.outbox_batch(10)

    assert mutation_id == mutation.mutation_id
    assert json.loads(wire) == json.loads(json.dumps(mutation.to_wire()))
    assert Mutation.from_wire(json.loads(wire)) == store.pending()[0]
    store.close()


def test_a_batch_is_the_oldest_entries_in_order_after_the_id_given(tmp_path):
    store = LocalStore(tmp_path / "replica.db")
    with store.transaction() as db:
        for n in (3, 1, 2, 5):
            store.enqueue(db, Mutation(n, "visit", f"v{n}", Op.CREATE, fields={"n": n}), None)
    assert [mutation_id for mutation_id, _ in store.outbox_batch(3)] == [1, 2, 3]
    assert [mutation_id for mutation_id, _ in store.outbox_batch(3, after=2)] == [3, 5]
    store.close()


def test_api_push_sends_the_protocols_push_body_whichever_form_it_is_given():
    sent: list[dict] = []

    def server(request: httpx.Request) -> httpx.Response:
        assert request.headers["Content-Type"] == "application/json"
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"protocol": PROTOCOL_VERSION, "results": []})

    api = Api("http://fieldsync.test", transport=httpx.MockTransport(server))
    mutation = Mutation(7, "account", "a1", Op.UPDATE, 2, {"name": "Café"}, {"name": "Cafe"},
                        "1795431418507-0000-d1")
    api.push("token", [mutation])
    api.push_encoded("token", [json.dumps(mutation.to_wire())])
    api.close()

    assert sent == [{"protocol": PROTOCOL_VERSION, "mutations": [mutation.to_wire()]}] * 2


def test_records_created_offline_get_time_ordered_ids():
    client = SyncClient(":memory:")
    with client.store.transaction() as db:
        client.store.set_meta(db, device_id="device-1")  # as if signed in once
    first = client.create("territory", {"code": "N1", "name": "North"})
    second = client.create("territory", {"code": "N2", "name": "North 2"})
    assert uuid.UUID(first).version == uuid.UUID(second).version == 7
    assert uuid.UUID(first).int >> 80 <= uuid.UUID(second).int >> 80
