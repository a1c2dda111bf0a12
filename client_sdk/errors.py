"""The SDK's exceptions: one tree, so callers catch as broadly or narrowly as they need.

    FieldsyncError
    ├── OfflineError          the server could not be reached (retry later; work goes on)
    ├── AuthError             sign in again
    │   ├── NotLoggedIn
    │   └── SessionRevoked    the device was revoked or the user disabled
    ├── ServerError           the server answered an error (status, code, message, fields)
    ├── LocalValidationError  a local write was refused before reaching the outbox
    │   └── ChangeInFlight    a pending change being sent may not be edited or dropped
    └── ReplicaTooNew         the replica file was written by a newer SDK: upgrade this one

`ErrorCode` names every code a server answers (docs/protocol.md §11): compare
`ServerError.code` with its members, never with string literals. A newer server may answer
a code this SDK does not know, so `code` stays the text the server sent.
"""

from __future__ import annotations

from typing import Any

from sync.errors import ErrorCode

__all__ = ["AuthError", "ErrorCode", "FieldsyncError", "LocalValidationError", "NotLoggedIn",
           "OfflineError", "ReplicaTooNew", "ServerError", "SessionRevoked"]


class FieldsyncError(Exception):
    """Base of every SDK error."""


class OfflineError(FieldsyncError):
    """The server could not be reached; local work is kept and sync can be retried.

    `unsent`: no connection was made, so the request surely did not reach the server (a
    failure after connecting leaves it in doubt)."""

    def __init__(self, message: str, *, unsent: bool = False):
        super().__init__(message)
        self.unsent = unsent


class AuthError(FieldsyncError):
    """The session is missing or no longer valid."""


class NotLoggedIn(AuthError):
    pass


class SessionRevoked(AuthError):
    pass


class ServerError(FieldsyncError):
    """The server answered with the protocol's error shape."""

    def __init__(self, status: int, code: ErrorCode | str, message: str,
                 fields: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}

    @property
    def transient(self) -> bool:
        return self.status >= 500 or self.status in (408, 429)


class ReplicaTooNew(FieldsyncError):
    """The replica was written by a newer SDK, in a format this one would misread; nothing
    was changed in it."""


class LocalValidationError(FieldsyncError):
    """A local write was refused (unknown entity or record, bad operation)."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.fields = fields or {}


class ChangeInFlight(LocalValidationError):
    """A pending change was sent and its result is not stored yet: it may have been applied,
    so it can be neither edited nor dropped until a sync stores its result."""
