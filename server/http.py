"""Request input shared by the API views: JSON bodies, query arguments and path values.

Whatever a client sends, a view gets sound input or an ApiError in the one error shape, never
a server failure:
- a body is I-JSON (RFC 7493): UTF-8, no lone surrogate, no NaN or infinite number, and is
  nested at most MAX_JSON_DEPTH levels; anything else is 400 malformed_json;
- no text holds a NUL character, which PostgreSQL cannot store in text: 422 validation_failed
  naming the field in a body, 400 bad_request in a query argument, 404 in a path.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

from flask import Flask, request
from marshmallow import ValidationError, validate

from server.errors import ApiError, invalid_fields, not_found
from sync.errors import ErrorCode
from sync.protocol import NUL, NUL_MESSAGE

# Levels of objects and arrays in a body. The protocol's deepest body (a push) needs 4; the
# limit keeps every later recursive step (validation, JSON encoding) far from Python's own.
MAX_JSON_DEPTH = 64


class Loader(Protocol):
    """A marshmallow Schema, or a server.compiled_schema.CompiledSchema of one."""

    def load(self, data: Any) -> Any: ...


class NoNul(validate.Validator):
    """A marshmallow validator refusing text with a NUL character."""

    def __call__(self, value: Any) -> Any:
        if type(value) is str and NUL in value:
            raise ValidationError(NUL_MESSAGE)
        return value


def json_body(schema: Loader | None = None) -> Any:
    """The request's JSON body, with no NUL in any text, loaded through `schema` if given.

    Raises ApiError: 415 for a non-JSON content type, 400 malformed_json (request_json), 422
    validation_failed naming each text with a NUL by its dotted path; a schema's
    ValidationError becomes 422 in server.errors.
    """
    data = request_json()
    if nul := {path: [NUL_MESSAGE] for path in _nul_paths(data)}:
        raise invalid_fields("Text must not contain NUL characters", nul)
    return schema.load(data) if schema is not None else data


def request_json() -> Any:
    """The request's JSON body as read by `parse_json`; raises ApiError 415 for a body that is
    not sent as application/json."""
    if not request.is_json:
        raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json")
    return parse_json(request.get_data(cache=True))


def parse_json(data: bytes) -> Any:
    """`data` read as I-JSON nested at most MAX_JSON_DEPTH levels.

    Raises ApiError 400 malformed_json otherwise: such a body would fail later, deep inside
    validation, the database driver or the JSON encoder (RecursionError, UnicodeEncodeError).
    """
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant,
                           parse_float=_finite_float)
    except RecursionError:
        raise _malformed(f"The body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError and _finite_float's refusal
        raise _malformed("The body is not valid JSON") from None
    if value is None:
        raise _malformed("The body is not valid JSON")
    _check_sound(value)
    return value


def _malformed(message: str) -> ApiError:
    return ApiError(ErrorCode.MALFORMED_JSON, message)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # 1e400: JSON allows it, but no double holds it
        raise ValueError("number out of range")
    return number


def _check_sound(value: Any) -> None:
    """Raise 400 malformed_json for nesting beyond MAX_JSON_DEPTH or a lone surrogate (the
    UTF-8 decoding has refused every other text that is not Unicode)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _malformed(f"The body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif type(item) is str:
            _check_text(item)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed("The body holds a lone surrogate (\\ud800-\\udfff): not Unicode text"
                         ) from None


def _nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """Dotted paths (docs/protocol.md §2.1) of the texts in `value` holding a NUL: values, or
    keys, whose path then ends in the key itself. `value` nests at most MAX_JSON_DEPTH."""
    if type(value) is str:
        if NUL in value:
            yield path or "_schema"
    elif isinstance(value, dict):
        for key, inner in value.items():
            inner_path = f"{path}.{key}" if path else key
            if NUL in key:
                yield inner_path
            yield from _nul_paths(inner, inner_path)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _nul_paths(inner, f"{path}.{index}" if path else str(index))


def uuid_arg(name: str) -> str | None:
    """Query argument `name` as a canonical UUID (lowercase 8-4-4-4-12), None when absent.

    UUIDs are case-insensitive on input (RFC 9562), so any spelling uuid.UUID reads is
    accepted. Raises ApiError 422 validation_failed naming `name` for one that is no UUID.
    """
    text = request.args.get(name)
    if text is None:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise invalid_fields(f"{name} must be a UUID", {name: ["Not a valid UUID."]}) from None


def register_input_guards(app: Flask) -> None:
    """Refuse, before any view runs, a query argument or path value with a NUL character."""
    app.before_request(_refuse_nul_in_url)


def _refuse_nul_in_url() -> None:
    if any(NUL in str(value) for value in (request.view_args or {}).values()):
        raise not_found("Not found")
    bad = sorted({name for name, value in request.args.items(multi=True)
                  if NUL in name or NUL in value})
    if bad:
        raise ApiError(ErrorCode.BAD_REQUEST, "Query arguments must not contain NUL characters",
                       {name: [NUL_MESSAGE] for name in bad})
