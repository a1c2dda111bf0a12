"""Errors the engine raises, each with a stable code (docs/protocol.md lists them all).

The HTTP layer maps codes to statuses in one place (`server.errors`); the engine knows
nothing of HTTP.
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every engine error: a stable `code`, a human `message`, offending `fields`."""

    code = "sync_error"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class RetryTransaction(SyncError):
    """The transaction met a concurrent writer in a way it cannot resolve by waiting (a
    deadlock, a lock plan that changed): roll back and run it again. Never reaches a client:
    the caller retries (sync.database.retrying), a bounded number of times, then answers
    ServerBusy (the code a client would see if one ever escaped)."""

    code = "server_busy"


class ServerBusy(SyncError):
    """A write kept meeting concurrent writers and gave up after its retries: send it again
    later (nothing of it was applied)."""

    code = "server_busy"


class InvalidRequest(SyncError):
    """The request as a whole is malformed (not one mutation of it)."""

    code = "invalid_request"


class ProtocolMismatch(SyncError):
    code = "protocol_mismatch"


class InvalidCursor(SyncError):
    """The cursor was not issued by this server (or was altered)."""

    code = "invalid_cursor"


class ResetRequired(SyncError):
    """The cursor points before the retained change history: re-download the scope."""

    code = "reset_required"


class MutationRejected(SyncError):
    """One mutation cannot be applied; the rest of its batch still is."""

    code = "rejected"

    def __init__(self, code: str, message: str, *, fields: dict[str, Any] | None = None):
        super().__init__(message, fields=fields)
        self.code = code


class RecordNotFound(SyncError):
    code = "not_found"


class ConflictNotOpen(SyncError):
    code = "conflict_not_open"
