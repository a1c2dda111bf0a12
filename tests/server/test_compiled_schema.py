"""The compiled fast path of the wire schemas agrees with marshmallow, its authority.

For every replicated entity's schema and for the push envelope: whenever the fast path
accepts an input, marshmallow accepts it too and gives the very same result (keys in the
same order); whatever marshmallow refuses, the fast path refuses as well, and the compiled
schema then raises marshmallow's own error. Inputs mix valid values near every limit with
wrong types, malformed text and unknown fields.
"""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from bench.scenarios import data as bench_data
from server.api.sync import FAST_PUSH, PUSH_SCHEMA, PushSchema, fast_push
from server.compiled_schema import CompiledSchema, compile_field
from server.domain.entities import SPECS
from server.domain.wire_fields import UTCDateTime, UUIDString
from server.fast_fields import FAST_PATH_DOUBTS

SCHEMAS = {spec.name: spec.codec.schema for spec in SPECS}
CHECKS = settings(max_examples=200, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])

ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=4), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=True).map(str),
    st.from_regex(r"\A[ -]?[0-9]{1,14}(\.[0-9]{0,8})?(e-?[0-9])?[ ]?\Z"),
    st.sampled_from(["1_000", "NaN", "-Infinity", "sNaN", "1e30", "0.005", "0.015", "-0"]),
)
TIMESTAMP_TEXT = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
    st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01", "20240501T1000+0200", "later"]),
)


def _limits(field: fields.Field, kind) -> list:
    return [v for v in field.validators if isinstance(v, kind)]


def _texts(field: fields.Field, *, near_limits: bool) -> st.SearchStrategy:
    patterns = _limits(field, validate.Regexp)
    if patterns and not near_limits:
        return st.from_regex(patterns[0].regex, fullmatch=True)
    if isinstance(field, fields.Email) and not near_limits:
        return st.emails()
    lengths = _limits(field, validate.Length)
    low, top = (lengths[0].min or 0, lengths[0].max or 40) if lengths else (0, 40)
    if near_limits:
        # one character repeated to near the limit: hypothesis draws no text much over 8 KiB
        padded = st.builds(lambda char, size: char * size, st.characters(),
                           st.integers(max(top - 2, 0), top + 1))
        return st.one_of(st.text(max_size=min(top + 2, 60)), padded)
    return st.text(min_size=low, max_size=min(top, 60))


def _numbers(field: fields.Field) -> st.SearchStrategy:
    ranges = _limits(field, validate.Range)
    low, high = (ranges[0].min, ranges[0].max) if ranges else (None, None)
    return st.decimals(min_value=low, max_value=high, allow_nan=False, allow_infinity=False,
                       places=2 if field.places is None else -field.places.as_tuple().exponent)


def good_values(field: fields.Field) -> st.SearchStrategy:
    """Mostly valid values, as a device would send them."""
    if isinstance(field, UUIDString):
        return st.uuids().map(str)
    if isinstance(field, UTCDateTime):
        return st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    if isinstance(field, fields.String):
        return _texts(field, near_limits=False)
    if isinstance(field, fields.Enum):
        return st.sampled_from([m.value for m in field.enum])
    if isinstance(field, fields.Decimal):
        return st.one_of(_numbers(field).map(str), st.integers(0, 90))
    if isinstance(field, fields.Integer):
        ranges = _limits(field, validate.Range)
        return st.integers(ranges[0].min or 0, ranges[0].max) if ranges else st.integers()
    if isinstance(field, fields.Date):
        return st.dates().map(str)
    if isinstance(field, fields.Boolean):
        return st.booleans()
    return ANYTHING


def odd_values(field: fields.Field) -> st.SearchStrategy:
    """Values at and past the limits, in other spellings, of other types."""
    if isinstance(field, UUIDString):
        typed = st.uuids().flatmap(lambda u: st.sampled_from(
            [str(u).upper(), u.hex, f"{{{u}}}", str(u)[:-1]]))
    elif isinstance(field, UTCDateTime):
        typed = TIMESTAMP_TEXT
    elif isinstance(field, fields.String):
        typed = _texts(field, near_limits=True)
    elif isinstance(field, fields.Enum):
        typed = st.sampled_from(["", "Active", "other"])
    elif isinstance(field, fields.Decimal):
        typed = NUMBER_TEXT
    elif isinstance(field, fields.Integer):
        typed = st.one_of(st.integers(-5, 5), st.integers(2**31 - 3, 2**31 + 1),
                          st.integers(2**63 - 2, 2**64))
    elif isinstance(field, fields.Date):
        typed = st.sampled_from(["20240501", "2024-W01-1", "2024-02-30"])
    else:
        typed = st.sampled_from(["yes", "1", 1, 0, 0.0])
    return st.one_of(typed, ANYTHING)


@st.composite
def records_for(draw, schema: Schema) -> dict:
    """A record of mostly good values; now and then a few odd ones or an unknown field."""
    loadable = {n: f for n, f in schema.fields.items() if not f.dump_only}
    required = {n: good_values(f) for n, f in loadable.items() if f.required}
    optional = {n: good_values(f) for n, f in loadable.items() if not f.required}
    record = draw(st.fixed_dictionaries(required, optional=optional))
    for name in draw(st.lists(st.sampled_from([*schema.fields, "revenue"]), max_size=2)):
        field = schema.fields.get(name)
        record[name] = draw(ANYTHING if field is None else odd_values(field))
    for name in draw(st.lists(st.sampled_from(sorted(required)), max_size=1)
                     if required else st.just([])):
        record.pop(name, None)
    return record


def marshmallow_canonical(schema: Schema, record, partial):
    try:
        return schema.dump(schema.load(record, partial=partial))
    except ValidationError as exc:
        return exc


def fast_canonical(compiled: CompiledSchema, record, partial):
    try:
        return compiled.fast_canonical(record, partial=partial)
    except FAST_PATH_DOUBTS:
        return None


def assert_agrees(schema: Schema, compiled: CompiledSchema, record, partial) -> None:
    expected = marshmallow_canonical(schema, record, partial)
    fast = fast_canonical(compiled, record, partial)
    if fast is not None:
        assert not isinstance(expected, ValidationError), (record, expected.messages)
        assert list(fast.items()) == list(expected.items())
        two_steps = compiled.fast_dump(compiled.fast_load(record, partial=partial))
        assert list(two_steps.items()) == list(expected.items())
    if isinstance(expected, ValidationError):
        with pytest.raises(ValidationError) as raised:
            compiled.canonical(record, partial=partial)
        assert raised.value.messages == expected.messages
    else:
        assert list(compiled.canonical(record, partial=partial).items()) \
            == list(expected.items())


@pytest.mark.parametrize("entity", sorted(SCHEMAS))
def test_every_entity_schema_compiles(entity):
    assert CompiledSchema(SCHEMAS[entity]).compiled


@pytest.mark.parametrize("entity", sorted(SCHEMAS))
def test_the_fast_path_agrees_with_marshmallow_for_every_entity(entity):
    schema = SCHEMAS[entity]
    compiled = CompiledSchema(schema)

    @CHECKS
    @given(record=records_for(schema), partial=st.booleans())
    def check(record, partial):
        assert_agrees(schema, compiled, record, partial)

    check()


def test_the_fast_path_takes_the_accounts_a_device_creates():
    schema = SCHEMAS["account"]
    compiled = CompiledSchema(schema)
    for record in bench_data.accounts(str(uuid.uuid4()), 50):
        record.pop("id")
        fast = fast_canonical(compiled, record, False)
        assert fast is not None
        assert fast == schema.dump(schema.load(record))


EMAILISH = st.one_of(
    st.emails(),
    st.builds("{}@{}".format, st.text(max_size=6), st.text(max_size=10)),
    st.from_regex(r'\A("[a-z. ]*"|[a-z.+-]{0,5})@(\[[0-9.]{0,15}\]|[a-z0-9.-]{0,12}|localhost)\Z'),
    st.text(max_size=8),
)


@CHECKS
@given(text=EMAILISH, limit=st.sampled_from([None, 8, 254]))
def test_an_email_field_accepts_exactly_what_its_validators_accept(text, limit):
    field = fields.Email(validate=validate.Length(max=limit))
    try:
        expected = field.deserialize(text)
    except ValidationError:
        expected = None
    try:
        fast = compile_field(field).load(text)
    except FAST_PATH_DOUBTS:
        fast = None
    assert fast == expected


@CHECKS
@given(number=st.decimals(allow_nan=False, allow_infinity=False), places=st.integers(0, 8),
       range_=st.sampled_from([None, (-90, 90), (0, 1000)]))
def test_a_decimal_field_loads_and_dumps_as_marshmallow_does(number, places, range_):
    field = fields.Decimal(places=places, as_string=True,
                           validate=validate.Range(*range_) if range_ else None)
    try:
        expected = field.serialize("n", {"n": field.deserialize(str(number))})
    except (ValidationError, ArithmeticError):
        expected = None
    fast = compile_field(field)
    try:
        loaded = fast.load(str(number))
    except FAST_PATH_DOUBTS:
        assert expected is None
        return
    assert fast.dump_loaded(loaded) == expected


MUTATION = st.fixed_dictionaries(
    {"mutation_id": st.one_of(st.integers(-1, 3), ANYTHING),
     "entity": st.one_of(st.sampled_from(sorted(SCHEMAS)), st.text(max_size=42)),
     "id": st.one_of(st.uuids().map(str), st.text(max_size=37)),
     "op": st.one_of(st.sampled_from(["create", "update", "delete", "put"]), ANYTHING)},
    optional={"base_version": st.one_of(st.integers(-1, 3), ANYTHING),
              "fields": st.one_of(records_for(SCHEMAS["account"]), ANYTHING),
              "base": st.one_of(st.dictionaries(st.text(max_size=3), ANYTHING), ANYTHING),
              "hlc": st.one_of(st.text(max_size=66), ANYTHING),
              "extra": ANYTHING},
)
ENVELOPE = st.fixed_dictionaries(
    {}, optional={"protocol": st.one_of(st.just(1), ANYTHING),
                  "mutations": st.one_of(st.lists(MUTATION, max_size=4), ANYTHING),
                  "cursor": ANYTHING})


@CHECKS
@given(body=st.one_of(ENVELOPE, ANYTHING))
def test_the_push_envelope_loads_as_marshmallow_loads_it(body):
    schema = PushSchema()
    try:
        expected = schema.load(body)
    except ValidationError as exc:
        expected = exc
    try:
        fast = PUSH_SCHEMA.fast_load(body)
    except FAST_PATH_DOUBTS:
        fast = None
    if fast is not None:
        assert fast == expected
    if isinstance(expected, ValidationError):
        with pytest.raises(ValidationError) as raised:
            PUSH_SCHEMA.load(body)
        assert raised.value.messages == expected.messages
    else:
        assert PUSH_SCHEMA.load(body) == expected


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4))


def near(limit: int) -> st.SearchStrategy:
    """Text empty, short, or one character either side of `limit`."""
    return st.one_of(st.text(max_size=2), st.text(min_size=limit - 1, max_size=limit + 1))


NEAR_LIMITS = st.fixed_dictionaries(
    {"mutation_id": st.one_of(st.integers(-1, 2), st.integers(2**63 - 2, 2**64 + 1)),
     "entity": near(40), "id": near(36),
     "op": st.sampled_from(["create", "update", "delete", "Create", ""])},
    optional={"base_version": st.one_of(st.none(), st.integers(-2, 2), st.just(2**64)),
              "fields": st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3),
              "base": st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3),
              "hlc": st.one_of(st.none(), near(64))},
)


@settings(CHECKS, max_examples=600)
@given(body=st.one_of(ENVELOPE, ANYTHING,
                      st.fixed_dictionaries({"protocol": st.just(1),
                                             "mutations": st.lists(NEAR_LIMITS, min_size=1,
                                                                   max_size=2)})))
def test_a_push_body_msgspec_takes_marshmallow_takes_alike(body):
    """The push view reads a body with fast_push and hands what it refuses to PushSchema:
    what fast_push takes, PushSchema must take too, value for value."""
    try:
        text = json.dumps(body, allow_nan=False).encode()
    except (TypeError, ValueError):
        assume(False)
    fast = fast_push(text)
    if fast is None:
        return  # PushSchema reads it, and gives the error (the test above)
    expected = PushSchema().load(json.loads(text))
    assert fast.protocol == expected["protocol"]
    assert [(m.mutation_id, m.entity, m.id, m.op, m.base_version, m.fields, m.base, m.hlc)
            for m in fast.mutations] == [
        (m["mutation_id"], m["entity"], m["id"], m["op"], m["base_version"], m["fields_"],
         m["base"], m["hlc"]) for m in expected["mutations"]]
    for fast_m, m in zip(fast.mutations, expected["mutations"], strict=True):
        assert type(fast_m.op) is type(m["op"])


VALID = {"mutation_id": 1, "entity": "account", "id": "a" * 36, "op": "update",
         "base_version": 1, "fields": {"name": "B"}, "base": {}, "hlc": "h" * 64}


@pytest.mark.parametrize("change", [
    {}, {"entity": "e" * 40}, {"entity": "e" * 41}, {"entity": ""}, {"id": "i" * 37},
    {"id": ""}, {"hlc": "h" * 65}, {"hlc": None}, {"mutation_id": 0}, {"mutation_id": 2**64},
    {"mutation_id": True}, {"mutation_id": 1.0}, {"base_version": None}, {"base_version": 1.5},
    {"base_version": -3}, {"op": "put"}, {"fields": None}, {"fields": []}, {"base": None},
    {"extra": 1}, {"hlc": 5},
])
def test_msgspec_and_marshmallow_take_and_refuse_the_same_push_bodies(change):
    body = {"protocol": 1, "mutations": [{**VALID, **change}]}
    try:
        expected = PushSchema().load(body)
    except ValidationError:
        expected = None
    try:
        fast = FAST_PUSH.decode(json.dumps(body).encode())
    except msgspec.ValidationError:
        fast = None
    assert (fast is None) == (expected is None)
    if fast is not None:
        m, e = fast.mutations[0], expected["mutations"][0]
        assert (m.mutation_id, m.entity, m.id, m.op, m.base_version, m.fields, m.base,
                m.hlc) == (e["mutation_id"], e["entity"], e["id"], e["op"],
                           e["base_version"], e["fields_"], e["base"], e["hlc"])


def test_the_push_envelope_of_a_valid_batch_takes_the_fast_path():
    body = {"protocol": 1, "mutations": [
        {"mutation_id": 1, "entity": "account", "id": str(uuid.uuid4()), "op": "create",
         "fields": {"name": "A"}},
        {"mutation_id": 2, "entity": "account", "id": str(uuid.uuid4()), "op": "update",
         "base_version": 1, "fields": {"name": "B"}, "base": {"name": "A"},
         "hlc": "1700000000000-0000-dev"}]}
    assert PUSH_SCHEMA.fast_load(body) == PushSchema().load(body)


def test_a_timestamp_outside_the_utc_calendar_is_a_validation_error():
    schema = SCHEMAS["time_entry"]
    with pytest.raises(ValidationError) as raised:
        schema.load({"started_at": "0001-01-01T00:00:00+02:00"}, partial=True)
    assert raised.value.messages == {"started_at": ["Not a valid ISO 8601 timestamp."]}
