"""Per-mutation checks of a push: its HLC and its record id."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.apply import _canonical_uuid, reject
from sync.errors import MutationRejected
from sync.protocol import Status
from tests.sync.harness import Harness, update


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


@pytest.mark.parametrize("hlc", ["garbage", "000000000001-0000-n", "0000000000001-zzzz-n",
                                 "0000000000001-0000-", 42])
def test_a_mutation_whose_hlc_is_not_a_timestamp_is_rejected_alone(h, hlc):
    ids = h.w.ids
    before = h.record("account", ids["acc_n1"])
    bad = update(1, "account", ids["acc_n1"], 1, {"name": "Bad clock"}, hlc=hlc)
    good = update(2, "account", ids["acc_n2"], 1, {"name": "Good clock"},
                  hlc="1700000000000-0000-dev")
    rejected, applied = h.push("rep_n", [bad, good])
    assert rejected.status is Status.REJECTED
    assert (rejected.error.code, rejected.error.fields) == (
        "validation_failed", {"hlc": ["not an HLC timestamp"]})
    assert applied.status is Status.APPLIED
    assert h.record("account", ids["acc_n1"]).version == before.version


uuid_forms = st.uuids().flatmap(lambda u: st.sampled_from([
    str(u), str(u).upper(), u.hex, "{" + str(u) + "}", "urn:uuid:" + str(u), str(u)[:-1],
    str(u) + "0", str(u).replace("-", "", 1), " " + str(u), "g" + str(u)[1:],
    str(u)[:-1] + "g"]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(uuid_forms, st.text(max_size=36)))
def test_an_id_is_taken_exactly_when_it_is_a_uuid_in_canonical_form(text):
    try:
        expected = str(uuid.UUID(text)) == text
    except ValueError:
        expected = False
    try:
        _canonical_uuid(text)
        taken = True
    except MutationRejected as exc:
        assert exc.code == "validation_failed"
        taken = False
    assert taken == expected


def test_a_rejection_may_name_fields_called_like_its_own_parameters():
    fields = {"code": ["required"], "message": ["unknown"], "self": ["unknown"]}
    rejected = reject("validation_failed", "invalid territory", **fields)
    assert (rejected.code, rejected.message, rejected.fields) == (
        "validation_failed", "invalid territory", fields)
