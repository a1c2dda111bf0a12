"""Authentication refusals, each with a stable code.

They are ApiErrors, so server.errors renders them like every other API error, with the
status its table gives the code; the auth code raises them and never builds a response
itself. docs/protocol.md lists the codes.
"""

from __future__ import annotations

from server.errors import ApiError
from sync.errors import ErrorCode


class AuthError(ApiError):
    """Base of the authentication refusals."""

    code = ErrorCode.UNAUTHORIZED
    default_message = "Authentication required"

    def __init__(self, message: str | None = None):
        super().__init__(self.code, message or self.default_message)


class MissingCredentials(AuthError):
    code = ErrorCode.UNAUTHORIZED
    default_message = "Send an access token: Authorization: Bearer <token>"


class InvalidToken(AuthError):
    code = ErrorCode.INVALID_TOKEN
    default_message = "The access token is not valid"


class TokenExpired(AuthError):
    code = ErrorCode.TOKEN_EXPIRED
    default_message = "The access token has expired; refresh it"


class DeviceRevoked(AuthError):
    code = ErrorCode.DEVICE_REVOKED
    default_message = "This device was revoked; sign in on a new device name"


class SessionRevoked(AuthError):
    """The access token's session ended: signed out, signed in again on the device, a new
    password, or its refresh token family revoked after a replay."""

    code = "session_revoked"
    default_message = "This session was ended; sign in again"


class UserDisabled(AuthError):
    code = ErrorCode.USER_DISABLED
    default_message = "This account is disabled"


class InvalidCredentials(AuthError):
    code = ErrorCode.INVALID_CREDENTIALS
    default_message = "The email or password is wrong"


class DeviceNameRevoked(AuthError):
    """Login on a device name that an administrator revoked: the name stays unusable."""

    code = ErrorCode.DEVICE_NAME_REVOKED
    default_message = "This device was revoked; sign in with a different device name"


class DeviceNameTaken(AuthError):
    """Login without an installation id on a device name an installation holds: sharing its
    device would mix two replicas' mutations in one receipt stream."""

    status = 409
    code = "device_name_taken"
    default_message = ("Another installation signs in under this device name; choose "
                       "another name, or update the app")


class InvalidRefreshToken(AuthError):
    code = ErrorCode.INVALID_REFRESH_TOKEN
    default_message = "The refresh token is unknown or revoked; sign in again"


class RefreshTokenExpired(AuthError):
    code = ErrorCode.REFRESH_TOKEN_EXPIRED
    default_message = "The refresh token has expired; sign in again"


class RefreshTokenReused(AuthError):
    """An already used refresh token came back: it may be stolen, so its family is revoked."""

    code = ErrorCode.REFRESH_TOKEN_REUSED
    default_message = "The refresh token was already used; every session of it was revoked"


class LoginThrottled(AuthError):
    """Too many failed logins for an email or from an address; retry after `retry_after` s."""

    code = ErrorCode.RATE_LIMITED
    default_message = "Too many failed login attempts; try again later"

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = retry_after
