"""The sync view's payload text (sync.protocol.record_json, msgspec) is compact_json's text."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sync.protocol import compact_json, record_json

# What canonical record data holds: no entity has a float field.
scalars = st.none() | st.booleans() | st.integers() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(), inner, max_size=3), max_leaves=12)
records = st.dictionaries(st.text(), values, max_size=8)


@given(records)
def test_record_data_is_written_as_compact_json_writes_it_byte_for_byte(data):
    assert record_json(data) == compact_json(data)


@given(st.dictionaries(st.text(max_size=3), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_float_reads_back_as_the_same_number(data):
    assert json.loads(record_json(data)) == json.loads(compact_json(data)) == data


def test_what_msgspec_refuses_compact_json_writes():
    for data in ({"s": "\ud800"}, {True: "a", None: "b"}):
        assert record_json(data) == compact_json(data)
