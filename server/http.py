"""Request parsing shared by the API views: JSON bodies through marshmallow schemas."""

from __future__ import annotations

from typing import Any, Protocol

from flask import request

from server.errors import ApiError


class Loader(Protocol):
    """A marshmallow Schema, or a server.compiled_schema.CompiledSchema of one."""

    def load(self, data: Any) -> Any: ...


def json_body(schema: Loader | None = None) -> Any:
    """The request's JSON body, loaded through `schema` when one is given.

    Raises ApiError 415 for a non-JSON content type and 400 for malformed JSON; a schema's
    ValidationError becomes 422 in server.errors.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "The body is not valid JSON")
    return schema.load(data) if schema is not None else data
