"""Errors the engine raises, each with a stable code (docs/protocol.md lists them all).

`ErrorCode` names every code the protocol defines, for the server and the SDK alike (it
imports nothing but the standard library). The HTTP layer maps codes to statuses in one
table (`server.errors.STATUS`); the engine knows nothing of HTTP.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Every `error.code` a fieldsync server answers with (docs/protocol.md §11)."""

    # the request as a whole
    BAD_REQUEST = "bad_request"
    MALFORMED_JSON = "malformed_json"
    INVALID_REQUEST = "invalid_request"
    PROTOCOL_MISMATCH = "protocol_mismatch"
    INVALID_CURSOR = "invalid_cursor"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    GONE = "gone"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVER_BUSY = "server_busy"  # concurrent writers kept colliding; nothing applied
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    HTTP_ERROR = "http_error"  # an HTTP error status without a code of its own
    # authentication
    UNAUTHORIZED = "unauthorized"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    DEVICE_REVOKED = "device_revoked"
    DEVICE_NAME_REVOKED = "device_name_revoked"
    USER_DISABLED = "user_disabled"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"
    REFRESH_TOKEN_EXPIRED = "refresh_token_expired"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    SESSION_REVOKED = "session_revoked"
    DEVICE_NAME_TAKEN = "device_name_taken"
    # one mutation, or one record written through the records API
    VALIDATION_FAILED = "validation_failed"
    UNKNOWN_ENTITY = "unknown_entity"
    ALREADY_EXISTS = "already_exists"
    OUT_OF_SCOPE = "out_of_scope"
    FORBIDDEN = "forbidden"
    INVALID_BASE_VERSION = "invalid_base_version"
    MISSING_REFERENCE = "missing_reference"
    REFERENCE_DELETED = "reference_deleted"
    UNMERGEABLE = "unmergeable"
    INTEGRITY_ERROR = "integrity_error"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    RECORD_LOCKED = "record_locked"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    CONTENT_TYPE_NOT_ALLOWED = "content_type_not_allowed"
    # push results only (no HTTP status of their own), and one recorded by the client
    RECEIPT_EXPIRED = "receipt_expired"
    MUTATION_ID_REUSED = "mutation_id_reused"
    MUTATION_ID_OUT_OF_ORDER = "mutation_id_out_of_order"
    MUTATION_TOO_LARGE = "mutation_too_large"
    # pulls, reviews and administration
    RESET_REQUIRED = "reset_required"
    CONFLICT_NOT_OPEN = "conflict_not_open"
    EMAIL_TAKEN = "email_taken"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_TOO_COMMON = "password_too_common"
    PASSWORD_CONTAINS_EMAIL = "password_contains_email"
    # attachment bytes (docs/protocol.md §14)
    NO_CONTENT_HASH = "no_content_hash"
    UPLOAD_OFFSET_MISMATCH = "upload_offset_mismatch"
    UPLOAD_IN_PROGRESS = "upload_in_progress"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    UPLOAD_EXCEEDS_LENGTH = "upload_exceeds_length"
    CONTENT_HASH_MISMATCH = "content_hash_mismatch"
    CONTENT_NOT_UPLOADED = "content_not_uploaded"
    NO_THUMBNAIL = "no_thumbnail"


class SyncError(Exception):
    """Base of every engine error: a stable `code`, a human `message`, offending `fields`."""

    code: ErrorCode

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class RetryTransaction(SyncError):
    """The transaction met a concurrent writer in a way it cannot resolve by waiting (a
    deadlock, a lock plan that changed): roll back and run it again. Never reaches a client:
    the caller retries (sync.database.retrying), a bounded number of times, then answers
    ServerBusy (the code a client would see if one ever escaped)."""

    code = ErrorCode.SERVER_BUSY


class ServerBusy(SyncError):
    """A write kept meeting concurrent writers and gave up after its retries: send it again
    later (nothing of it was applied)."""

    code = ErrorCode.SERVER_BUSY


class InvalidRequest(SyncError):
    """The request as a whole is malformed (not one mutation of it)."""

    code = ErrorCode.INVALID_REQUEST


class ProtocolMismatch(SyncError):
    """The request speaks another version of the sync protocol than this server."""

    code = ErrorCode.PROTOCOL_MISMATCH


class InvalidCursor(SyncError):
    """The cursor was not issued by this server (or was altered)."""

    code = ErrorCode.INVALID_CURSOR


class ResetRequired(SyncError):
    """The cursor points before the retained change history: re-download the scope."""

    code = ErrorCode.RESET_REQUIRED


class MutationRejected(SyncError):
    """One mutation cannot be applied; the rest of its batch still is.

    Raises ValueError for a `code` that is not an ErrorCode: every rejection is documented.
    """

    def __init__(self, code: ErrorCode | str, message: str, *,
                 fields: dict[str, Any] | None = None):
        super().__init__(message, fields=fields)
        self.code = ErrorCode(code)


class RecordNotFound(SyncError):
    code = ErrorCode.NOT_FOUND


class ConflictNotOpen(SyncError):
    code = ErrorCode.CONFLICT_NOT_OPEN
