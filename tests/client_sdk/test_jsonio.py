"""client_sdk.jsonio writes what the standard library reads back; the SDK's answers keep
every integer exactly."""

from __future__ import annotations

import json

import httpx
from hypothesis import given
from hypothesis import strategies as st

from client_sdk.api import Api
from client_sdk.jsonio import record_json

scalars = (st.none() | st.booleans() | st.integers() | st.text()
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@given(values)
def test_a_value_reads_back_as_it_was_written(value):
    assert json.loads(record_json(value)) == value


def test_integers_beyond_64_bits_are_kept_exactly_both_ways():
    # orjson would read these as floats: 2**70 + 1 has no exact float
    big = {"n": 2**70 + 1, "m": -(2**63) - 1}
    assert json.loads(record_json(big)) == big
    api = Api("http://fieldsync.test",
              transport=httpx.MockTransport(lambda request: httpx.Response(200, json=big)))
    assert api.call("GET", "/anything") == big
    api.close()


def test_a_key_that_is_not_a_string_is_encoded_as_the_standard_library_does():
    assert record_json({1: "a"}) == '{"1":"a"}'
