"""A push result is encoded once: the answer's JSON is the receipt's, and equals the result."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain import actor_for
from sync.protocol import (
    ErrorInfo,
    FieldConflict,
    MutationResult,
    RecordState,
    Status,
    compact_json,
)
from tests.sync.harness import Harness, create, uid, update
from tests.sync.tech_work import tech_batch

texts = st.text(max_size=8)
values = st.recursive(st.none() | st.booleans() | st.integers() | texts,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(texts, inner, max_size=3), max_leaves=8)
records = st.builds(RecordState, texts, texts, st.integers(1, 10**6), texts, st.booleans(),
                    st.dictionaries(texts, values, max_size=5))
conflicts = st.builds(FieldConflict, st.none() | texts, texts, texts, values, values, values,
                      values, st.booleans())
results = st.builds(MutationResult, st.integers(0, 2**63), st.sampled_from(list(Status)),
                    texts, texts, st.none() | records, st.lists(conflicts, max_size=2).map(tuple),
                    st.none() | st.builds(ErrorInfo, texts, texts,
                                          st.dictionaries(texts, values, max_size=2)))


@given(results)
def test_a_result_with_its_data_spliced_in_is_the_json_of_its_wire_form(result):
    expected = compact_json(result.to_wire())
    assert result.to_json() == expected
    if result.record is not None:
        assert result.to_json(data_json=compact_json(result.record.data)) == expected


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def push_json(h: Harness, user: str, mutations) -> list[dict]:
    created = h.w.users[user]
    with h.tx() as conn:
        actor = actor_for(conn, created.id, created.role, h.device(user))
        return [json.loads(text) for text in h.sync.push_json(conn, actor, mutations)]


def test_the_answer_is_what_a_replay_answers_from_the_receipts(h):
    batch = tech_batch(h)
    answered = push_json(h, "tech_a", batch)
    assert [a["status"] for a in answered] == ["applied"] * 3
    assert answered == [r.to_wire() for r in h.push("tech_a", batch)]


def test_a_record_written_twice_in_a_batch_answers_each_mutation_with_its_own_version(h):
    account = uid()
    territory = h.w.territories["N"]
    answered = push_json(h, "rep_n", [
        create(1, "account", account, {"territory_id": territory, "name": "First"}),
        update(2, "account", account, 1, {"name": "Second"}, base={"name": "First"}),
    ])
    assert [(a["record"]["version"], a["record"]["data"]["name"]) for a in answered] == [
        (1, "First"), (2, "Second")]
    assert answered == [r.to_wire() for r in h.push("rep_n", [
        create(1, "account", account, {"territory_id": territory, "name": "First"}),
        update(2, "account", account, 1, {"name": "Second"}, base={"name": "First"})])]
