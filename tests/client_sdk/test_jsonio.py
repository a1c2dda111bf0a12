"""client_sdk.jsonio reads and writes what the standard library does, only faster."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client_sdk.jsonio import loads, record_json

scalars = (st.none() | st.booleans() | st.integers() | st.text()
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@given(values)
def test_a_value_reads_back_as_it_was_written(value):
    assert json.loads(record_json(value)) == value
    assert loads(json.dumps(value)) == value
    assert loads(json.dumps(value).encode()) == value


def test_integers_beyond_64_bits_go_through_the_standard_library():
    big = {"n": 2**70, "m": -(2**80)}
    assert loads(json.dumps(big)) == big
    assert json.loads(record_json(big)) == big


def test_nan_from_a_foreign_server_reads_as_the_standard_library_reads_it():
    assert math.isnan(loads(b'{"x": NaN}')["x"])


def test_a_key_that_is_not_a_string_is_encoded_as_the_standard_library_does():
    assert record_json({1: "a"}) == '{"1":"a"}'


def test_malformed_json_is_a_value_error():
    with pytest.raises(ValueError):
        loads(b"{not json")
