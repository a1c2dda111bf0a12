"""fieldsync client SDK: an offline SQLite replica, an outbox, and sync() against a server."""

from client_sdk.client import SyncClient, SyncStatus
from client_sdk.errors import (
    AuthError,
    ChangeInFlight,
    ErrorCode,
    FieldsyncError,
    LocalValidationError,
    NotLoggedIn,
    OfflineError,
    ReplicaTooNew,
    ServerError,
    SessionRevoked,
)
from client_sdk.pending import PendingChange
from client_sdk.syncer import RetryPolicy, SyncReport

__all__ = [
    "AuthError",
    "ChangeInFlight",
    "ErrorCode",
    "FieldsyncError",
    "LocalValidationError",
    "NotLoggedIn",
    "OfflineError",
    "PendingChange",
    "ReplicaTooNew",
    "RetryPolicy",
    "ServerError",
    "SessionRevoked",
    "SyncClient",
    "SyncReport",
    "SyncStatus",
]
