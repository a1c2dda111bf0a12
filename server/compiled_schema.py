"""marshmallow schemas compiled once into fast loaders that agree with marshmallow.

marshmallow stays the single definition of every wire schema and the authority for errors.
A `CompiledSchema` loads (and canonicalises: load then dump) the common input with direct
code built once per schema from the fields' own settings and validators. Whenever it is not
certain (an invalid value, an unusual type, a feature it does not reproduce) it hands the
whole input to marshmallow, which then gives the result or raises the ValidationError.
tests/server/test_compiled_schema.py holds the two to the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate

from server.fast_fields import (
    BUILDERS,
    FAST_PATH_DOUBTS,
    Convert,
    FastField,
    NotCompilable,
    Unsure,
    builder,
)

# The builders reproduce marshmallow 4's behaviour, which the equivalence tests check; with
# another major version every load goes through marshmallow.
MARSHMALLOW_MAJOR = int(version("marshmallow").split(".")[0])


@dataclass(frozen=True)
class _Field:
    name: str  # the attribute in loaded data
    key: str  # the key on the wire
    load: Convert
    dump: Convert | None
    required: bool
    default: Any  # load_default: a value, a callable, or marshmallow.missing
    shown: bool  # dumped (not load_only)
    dump_loaded: Convert | None = None  # see FastField

    def canonical(self) -> Convert:
        """load then dump in one step."""
        load, dump = self.load, self.dump_loaded or self.dump
        if dump is None:
            return load

        def canon(value):
            loaded = load(value)
            return None if loaded is None else dump(loaded)
        return canon

    def dumped_default(self) -> Any:
        value = self.default() if callable(self.default) else self.default
        return value if self.dump is None or value is None else self.dump(value)


class CompiledSchema:
    """`load` and `canonical` with marshmallow's results and errors, mostly without it."""

    def __init__(self, schema: Schema):
        self.schema = schema
        try:
            fields_: tuple[_Field, ...] = _compile_schema(schema)
        except NotCompilable:
            fields_, self.compiled = (), False
        else:
            self.compiled = True
        self._keys = frozenset(f.key for f in fields_)
        # marshmallow hands `partial` down to nested schemas; the fast path does not
        self._nests = any(isinstance(field, fields.Nested | fields.List)
                          for field in schema.load_fields.values())
        # plain tuples: the loops below run for every field of every record
        self._loads = tuple((f.key, f.name, f.load, f.required, f) for f in fields_)
        self._canons = tuple((f.key, f.canonical(), f.required, f.shown, f) for f in fields_)
        self._dumps = tuple((f.key, f.name, f.dump) for f in fields_ if f.shown)

    def load(self, data: Any, *, partial: bool | None = None) -> Any:
        """Same as `schema.load(data, partial=partial)`; raises its ValidationError."""
        try:
            return self.fast_load(data, partial=partial)
        except FAST_PATH_DOUBTS:
            return self.schema.load(data, partial=partial)

    def canonical(self, data: Any, *, partial: bool | None = None) -> dict[str, Any]:
        """Same as `schema.dump(schema.load(data, partial=partial))`."""
        try:
            return self.fast_canonical(data, partial=partial)
        except FAST_PATH_DOUBTS:
            return self.schema.dump(self.schema.load(data, partial=partial))

    def fast_load(self, data: Any, *, partial: bool | None = None) -> dict[str, Any]:
        """The fast path alone; raises Unsure (or another FAST_PATH_DOUBTS) when in doubt."""
        self._check_shape(data, partial)
        loaded = {}
        for key, name, load, required, f in self._loads:
            raw = data.get(key, missing)
            if raw is not missing:
                loaded[name] = load(raw)
            elif not partial and _default_needed(required, f.default):
                loaded[name] = f.default() if callable(f.default) else f.default
        return loaded

    def fast_canonical(self, data: Any, *, partial: bool | None = None) -> dict[str, Any]:
        """fast_load then fast_dump, in one pass."""
        self._check_shape(data, partial)
        dumped = {}
        for key, canon, required, shown, f in self._canons:
            raw = data.get(key, missing)
            if raw is not missing:
                value = canon(raw)
            elif not partial and _default_needed(required, f.default):
                value = f.dumped_default()
            else:
                continue
            if shown:
                dumped[key] = value
        return dumped

    def fast_dump(self, loaded: Mapping[str, Any]) -> dict[str, Any]:
        dumped = {}
        for key, name, dump in self._dumps:
            if name in loaded:
                value = loaded[name]
                dumped[key] = value if dump is None or value is None else dump(value)
        return dumped

    def _check_shape(self, data: Any, partial: bool | None) -> None:
        if not self.compiled or type(data) is not dict or not self._keys.issuperset(data) \
                or (partial and self._nests):
            raise Unsure


def _default_needed(required: bool, default: Any) -> bool:
    """A field missing from a full load: required ones are marshmallow's to refuse."""
    if required:
        raise Unsure
    return default is not missing


def _compile_schema(schema: Schema) -> tuple[_Field, ...]:
    if MARSHMALLOW_MAJOR != 4:
        raise NotCompilable(f"marshmallow {MARSHMALLOW_MAJOR}")
    if any(schema._hooks.values()) or schema.many or schema.partial \
            or schema.unknown != RAISE or schema.only is not None or schema.exclude \
            or schema.dict_class is not dict:
        raise NotCompilable("schema hooks or options")
    return tuple(_compile_entry(name, field, shown=name in schema.dump_fields)
                 for name, field in schema.load_fields.items())


def _compile_entry(name: str, field: fields.Field, *, shown: bool) -> _Field:
    if field.attribute is not None:
        raise NotCompilable("attribute")
    fast = compile_field(field)
    return _Field(name, field.data_key or name, fast.load, fast.dump, field.required,
                  field.load_default, shown, fast.dump_loaded)


def compile_field(field: fields.Field) -> FastField:
    """The field's FastField with its None handling and validators around the conversion."""
    build = BUILDERS.get(type(field))
    if build is None or field.pre_load or field.post_load:
        raise NotCompilable(f"field {type(field).__name__}")
    fast = build(field)
    if fast.checked:
        return fast
    return FastField(_with_checks(fast.load, field.allow_none, tuple(field.validators)),
                     fast.dump, dump_loaded=fast.dump_loaded)


def _with_checks(convert: Convert, allow_none: bool, validators: tuple) -> Convert:
    if not validators:
        return _none_or(convert, allow_none)
    validators = tuple(map(_quick_check, validators))

    def load(value):
        if value is None:
            if allow_none:
                return None
            raise Unsure
        out = convert(value)
        for validator in validators:
            if validator(out) is False:  # a plain function's way of saying no
                raise Unsure
        return out
    return load


def _quick_check(validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A marshmallow validator, or a quicker check accepting exactly what it accepts and
    raising Unsure for the rest (marshmallow then words the error)."""
    if type(validator) is validate.Email:
        return _email_check(validator)
    if type(validator) is validate.Range and validator.min_inclusive \
            and validator.max_inclusive:
        low, high = validator.min, validator.max
        # Range's own comparisons, without the call into it
        return lambda value: ((low is None or not value < low)
                              and (high is None or not value > high)) or _unsure()
    if type(validator) is validate.Length and validator.equal is None:
        low = 0 if validator.min is None else validator.min
        high = float("inf") if validator.max is None else validator.max
        return lambda value: low <= len(value) <= high or _unsure()
    return validator


def _email_check(validator: validate.Email) -> Callable[[str], str]:
    """validate.Email's own test with its own patterns, without first formatting the error
    message it would raise (which took most of its 2.4 us)."""
    user_pattern, domain_pattern = validator.USER_REGEX, validator.DOMAIN_REGEX
    allowed = validator.DOMAIN_WHITELIST

    def check(value: str) -> str:
        if value and "@" in value:
            user, domain = value.rsplit("@", 1)
            if user_pattern.match(user) and (domain in allowed or domain_pattern.match(domain)):
                return value
        raise Unsure
    return check


def _unsure() -> bool:
    raise Unsure


def _none_or(convert: Convert, allow_none: bool) -> Convert:
    def load(value):
        if value is None:
            if allow_none:
                return None
            raise Unsure
        return convert(value)
    return load


@builder(fields.Nested)
def _nested(field: fields.Nested) -> FastField:
    if field.many or field.unknown is not None or field.only is not None or field.exclude:
        raise NotCompilable("nested options")
    inner = CompiledSchema(field.schema)
    if not inner.compiled:
        raise NotCompilable("nested schema")
    return FastField(inner.fast_load, inner.fast_dump)


@builder(fields.List)
def _list(field: fields.List) -> FastField:
    inner = compile_field(field.inner)
    item_load, item_dump = inner.load, inner.dump

    def load(value):
        if type(value) is not list:
            raise Unsure
        return [item_load(item) for item in value]

    def dump(value):
        return [item if item_dump is None or item is None else item_dump(item)
                for item in value]
    return FastField(load, dump)


@builder(fields.Dict)
def _dict(field: fields.Dict) -> FastField:
    if field.value_field is not None or type(field.key_field) not in (fields.String, type(None)):
        raise NotCompilable("dict with typed keys or values")
    if field.key_field is not None and _has_rules(field.key_field):
        raise NotCompilable("dict keys with rules")

    def load(value):
        if type(value) is not dict or not all(type(k) is str for k in value):
            raise Unsure
        return dict(value)
    return FastField(load, dict)


def _has_rules(field: fields.Field) -> bool:
    return bool(field.validators or field.pre_load or field.post_load or field.allow_none)

