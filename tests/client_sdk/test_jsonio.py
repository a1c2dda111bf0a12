"""client_sdk.jsonio: pulled record data is stored as the server's own text, whatever its
numbers; what it encodes, the standard library reads back; the SDK's answers keep every
integer exactly."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from client_sdk.api import Api
from client_sdk.jsonio import change_data_text, decode_page, loads
from sync.protocol import record_json

scalars = (st.none() | st.booleans() | st.integers() | st.text()
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)
records = st.dictionaries(st.text(), values, max_size=6)


def page_body(*changes: dict, ensure_ascii: bool = False) -> bytes:
    page = {"protocol": 1, "cursor": "c1", "more": False, "phase": "changes",
            "progress": {"snapshot_total": 0, "snapshot_done": 0}, "changes": list(changes)}
    return json.dumps(page, ensure_ascii=ensure_ascii, separators=(",", ":")).encode()


def put(data, **extra) -> dict:
    return {"op": "put", "entity": "account", "id": "a1", "version": 3, "hlc": "h", "data": data,
            **extra}


@given(values)
def test_a_value_reads_back_as_it_was_written(value):
    assert json.loads(record_json(value)) == value


@given(records, st.booleans())
def test_a_pulled_record_is_stored_as_the_text_the_server_sent(data, ensure_ascii):
    body = page_body(put(data), ensure_ascii=ensure_ascii)
    page = decode_page(body)
    text = change_data_text(page["changes"][0])
    # the exact text, byte for byte: no number re-spelled, no integer turned into a float
    sent = json.dumps(data, ensure_ascii=ensure_ascii, separators=(",", ":"))
    assert text == sent
    assert json.loads(text) == data


# Numbers spelled every way JSON allows: what msgspec reads must be what the standard
# library reads, float for float (to the bit, the sign of zero included), int for int.
digits = st.text("0123456789", min_size=1, max_size=40)
numbers = st.builds(lambda sign, whole, fraction, exponent: f"{sign}{whole}{fraction}{exponent}",
                    st.sampled_from(["", "-"]),
                    st.one_of(st.just("0"), st.builds(lambda d, r: d + r,
                                                      st.sampled_from("123456789"), digits)),
                    st.one_of(st.just(""), digits.map(lambda d: "." + d)),
                    st.one_of(st.just(""), st.builds(lambda e, s, n: f"{e}{s}{n}",
                                                     st.sampled_from("eE"),
                                                     st.sampled_from(["", "+", "-"]),
                                                     st.integers(0, 400))))


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex()
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(st.lists(numbers, min_size=1, max_size=8))
def test_answers_decode_as_the_standard_library_decodes_them_number_for_number(spelled):
    body = ("[" + ",".join(spelled) + "]").encode()
    assert same(loads(body), json.loads(body))


@given(values | st.floats(allow_nan=False, allow_infinity=False).map(lambda f: [f, -f]))
def test_answers_decode_as_the_standard_library_decodes_them(value):
    body = json.dumps(value, ensure_ascii=False).encode()
    assert same(loads(body), json.loads(body))


def test_what_msgspec_refuses_the_standard_library_decodes():
    for body in (b"[1e400]", b'["\\ud800"]', b"[NaN]"):
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(body)
        assert repr(loads(body)) == repr(json.loads(body))


def test_the_rest_of_a_page_reads_as_the_standard_library_reads_it():
    body = page_body(put({"n": 1}), {"op": "delete", "entity": "contact", "id": "c1",
                                      "version": 2**70})
    page, plain = decode_page(body), json.loads(body)
    assert {k: v for k, v in page.items() if k != "changes"} == \
        {k: v for k, v in plain.items() if k != "changes"}
    assert [{k: v for k, v in c.items() if k != "data"} for c in page["changes"]] == \
        [{k: v for k, v in c.items() if k != "data"} for c in plain["changes"]]
    assert [change_data_text(c) for c in page["changes"]] == ['{"n":1}', None]


@pytest.mark.parametrize("data_text", ["null", " null "])
def test_a_put_without_data_stores_none(data_text):
    body = (b'{"changes":[{"op":"put","entity":"account","id":"a1","version":1,"data":'
            + data_text.encode() + b"}]}")
    assert change_data_text(decode_page(body)["changes"][0]) is None


def test_an_answer_msgspec_refuses_is_decoded_by_the_standard_library():
    # a lone UTF-16 surrogate: the standard library reads it, msgspec does not
    body = b'{"changes":[{"op":"put","entity":"a","id":"1","version":1,"data":{"s":"\\ud800"}}]}'
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)
    page = decode_page(body)
    assert page == json.loads(body)
    assert json.loads(change_data_text(page["changes"][0])) == {"s": "\ud800"}


def test_a_body_that_is_not_json_raises_value_error():
    with pytest.raises(ValueError):
        decode_page(b'{"changes":[{"op":"put","data":{"a":1,}}]}')


def test_integers_beyond_64_bits_are_kept_exactly_both_ways():
    # a float cannot hold these: 2**70 + 1 has no exact float
    big = {"n": 2**70 + 1, "m": -(2**63) - 1}
    assert json.loads(record_json(big)) == big
    api = Api("http://fieldsync.test",
              transport=httpx.MockTransport(lambda request: httpx.Response(200, json=big)))
    assert api.call("GET", "/anything") == big
    api.close()


def test_a_pulled_page_keeps_integers_beyond_64_bits_exactly():
    body = page_body(put({"n": 2**70 + 1, "m": -(2**63) - 1}))
    api = Api("http://fieldsync.test", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, content=body)))
    page = api.pull("token", None, 10)
    api.close()
    assert json.loads(change_data_text(page["changes"][0])) == {"n": 2**70 + 1,
                                                                "m": -(2**63) - 1}


def test_a_key_that_is_not_a_string_is_encoded_as_the_standard_library_does():
    assert record_json({1: "a"}) == '{"1":"a"}'
    assert record_json({True: "a", None: "b"}) == '{"true":"a","null":"b"}'
