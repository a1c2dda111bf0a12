"""The one place that turns errors into HTTP statuses and the JSON error body.

Every error under /api/ has the shape {"error": {"code", "message", "fields"}}. Every code is
an `ErrorCode` (docs/protocol.md §11 lists them), and `STATUS` is the one table from code to
HTTP status: the API, the engine and the services raise codes, never statuses.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from sync.errors import ErrorCode, SyncError

log = logging.getLogger(__name__)

E = ErrorCode

# Codes without a status of their own: HTTP_ERROR carries whatever status Werkzeug raised
# with no code here; RECEIPT_EXPIRED is only ever a replayed push result's `error.code`.
STATUS: dict[ErrorCode, int] = {
    E.BAD_REQUEST: 400, E.MALFORMED_JSON: 400, E.INVALID_REQUEST: 400,
    E.PROTOCOL_MISMATCH: 400, E.INVALID_CURSOR: 400,
    E.UNAUTHORIZED: 401, E.INVALID_TOKEN: 401, E.TOKEN_EXPIRED: 401, E.DEVICE_REVOKED: 401,
    E.USER_DISABLED: 401, E.INVALID_CREDENTIALS: 401, E.INVALID_REFRESH_TOKEN: 401,
    E.REFRESH_TOKEN_EXPIRED: 401, E.REFRESH_TOKEN_REUSED: 401, E.SESSION_REVOKED: 401,
    E.FORBIDDEN: 403, E.DEVICE_NAME_REVOKED: 403, E.OUT_OF_SCOPE: 403,
    E.NOT_FOUND: 404, E.UNKNOWN_ENTITY: 404, E.CONTENT_NOT_UPLOADED: 404,
    E.NO_THUMBNAIL: 404,
    E.METHOD_NOT_ALLOWED: 405,
    E.CONFLICT: 409, E.ALREADY_EXISTS: 409, E.INVALID_BASE_VERSION: 409,
    E.INTEGRITY_ERROR: 409, E.CONFLICT_NOT_OPEN: 409, E.EMAIL_TAKEN: 409,
    E.DEVICE_NAME_TAKEN: 409, E.TRANSITION_NOT_ALLOWED: 409, E.RECORD_LOCKED: 409,
    E.UPLOAD_OFFSET_MISMATCH: 409, E.UPLOAD_IN_PROGRESS: 409,
    E.GONE: 410, E.RESET_REQUIRED: 410,
    E.PAYLOAD_TOO_LARGE: 413, E.ATTACHMENT_TOO_LARGE: 413,
    E.UNSUPPORTED_MEDIA_TYPE: 415,
    E.RANGE_NOT_SATISFIABLE: 416,
    E.VALIDATION_FAILED: 422, E.MISSING_REFERENCE: 422, E.REFERENCE_DELETED: 422,
    E.UNMERGEABLE: 422, E.CONTENT_TYPE_NOT_ALLOWED: 422,
    E.PASSWORD_TOO_SHORT: 422, E.PASSWORD_TOO_LONG: 422, E.PASSWORD_TOO_COMMON: 422,
    E.PASSWORD_CONTAINS_EMAIL: 422, E.NO_CONTENT_HASH: 422, E.CHECKSUM_MISMATCH: 422,
    E.UPLOAD_EXCEEDS_LENGTH: 422, E.CONTENT_HASH_MISMATCH: 422,
    E.RATE_LIMITED: 429,
    E.INTERNAL_ERROR: 500,
    E.SERVER_BUSY: 503,
}
# Codes that are never an HTTP answer: push results (RECEIPT_EXPIRED, MUTATION_ID_REUSED,
# MUTATION_ID_OUT_OF_ORDER) and MUTATION_TOO_LARGE, which only the client records.

# The code of an HTTP error raised by Werkzeug itself (routing, body size, JSON parsing).
GENERIC_CODES: dict[int, ErrorCode] = {STATUS[code]: code for code in (
    E.BAD_REQUEST, E.UNAUTHORIZED, E.FORBIDDEN, E.NOT_FOUND, E.METHOD_NOT_ALLOWED, E.CONFLICT,
    E.GONE, E.PAYLOAD_TOO_LARGE, E.UNSUPPORTED_MEDIA_TYPE, E.RANGE_NOT_SATISFIABLE,
    E.VALIDATION_FAILED, E.RATE_LIMITED, E.INTERNAL_ERROR)}


class ApiError(Exception):
    """An error the API answers with a stable `code`; its status is `STATUS[code]`.

    Raises ValueError for a code that is not an ErrorCode, KeyError for one without a status.
    """

    def __init__(self, code: ErrorCode | str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.status = STATUS[self.code]
        self.message = message
        self.fields = fields or {}


def unauthorized(message: str = "Authentication required",
                 code: ErrorCode = ErrorCode.UNAUTHORIZED) -> ApiError:
    return ApiError(code, message)


def forbidden(message: str = "Your role does not allow this") -> ApiError:
    return ApiError(ErrorCode.FORBIDDEN, message)


def not_found(message: str = "Not found") -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, message)


def invalid_fields(message: str, fields: dict[str, Any]) -> ApiError:
    """422 validation_failed: `fields` maps each offending input to its messages."""
    return ApiError(ErrorCode.VALIDATION_FAILED, message, fields)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _respond(status: int, code: ErrorCode, message: str, fields: dict | None = None,
             headers=None):
    response = jsonify(error_body(code, message, fields))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Headers an answer of a status carries: how to authenticate, when to retry a busy write.
STATUS_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "1"}}


def _coded(code: ErrorCode, message: str, fields: dict | None = None):
    """The answer for `code`, with the status the table gives it."""
    return _respond(STATUS[code], code, message, fields, STATUS_HEADERS.get(STATUS[code]))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    # Imported here: the user services import the auth package, which imports this module.
    from server.services.users import UserError

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return _coded(exc.code, exc.message, exc.fields)

    @app.errorhandler(SyncError)
    def _sync_error(exc: SyncError):
        return _coded(exc.code, exc.message, exc.fields)

    @app.errorhandler(UserError)
    def _user_error(exc: UserError):
        return _coded(exc.code, exc.message, exc.fields)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return _coded(ErrorCode.VALIDATION_FAILED, "The request has invalid fields", fields)

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _http_error(exc: HTTPException):
    if not _wants_json():
        return exc
    status = exc.code or 500
    code = GENERIC_CODES.get(status, ErrorCode.HTTP_ERROR)
    headers = dict(exc.get_headers()) if status == 405 else None
    if headers:
        headers.pop("Content-Type", None)
    return _respond(status, code, exc.description or exc.name, None, headers)


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    if not _wants_json():
        return "Internal server error", 500
    return _coded(ErrorCode.INTERNAL_ERROR, "The server failed; the error was logged")
