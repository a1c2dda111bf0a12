"""The one place that turns exceptions into HTTP statuses and the JSON error body.

Every error under /api/ has the shape {"error": {"code", "message", "fields"}}; codes are
stable and listed in docs/protocol.md.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from sync import errors as sync_errors

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers with `status` and a stable `code`."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def unauthorized(message: str = "Authentication required", code: str = "unauthorized"):
    return ApiError(401, code, message)


def forbidden(message: str = "Your role does not allow this"):
    return ApiError(403, "forbidden", message)


def not_found(message: str = "Not found"):
    return ApiError(404, "not_found", message)


SYNC_STATUS = {
    sync_errors.InvalidRequest: 400,
    sync_errors.ProtocolMismatch: 400,
    sync_errors.InvalidCursor: 400,
    sync_errors.ResetRequired: 410,
    sync_errors.RecordNotFound: 404,
    sync_errors.ConflictNotOpen: 409,
    sync_errors.MutationRejected: 422,
    sync_errors.ServerBusy: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    429: "rate_limited",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _respond(status: int, code: str, message: str, fields: dict | None = None, headers=None):
    response = jsonify(error_body(code, message, fields))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _respond(exc.status, exc.code, exc.message, exc.fields, headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return _respond(422, "validation_failed", "The request has invalid fields", fields)

    @app.errorhandler(sync_errors.SyncError)
    def _sync_error(exc: sync_errors.SyncError):
        status = SYNC_STATUS.get(type(exc), 400)
        headers = {"Retry-After": "1"} if status == 503 else None
        return _respond(status, exc.code, exc.message, exc.fields, headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http_error")
        if status == 400 and "JSON" in (exc.description or ""):
            code = "malformed_json"
        headers = dict(exc.get_headers()) if status == 405 else None
        if headers:
            headers.pop("Content-Type", None)
        return _respond(status, code, exc.description or exc.name, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return "Internal server error", 500
        return _respond(500, "internal_error", "The server failed; the error was logged")
