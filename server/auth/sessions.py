"""Sign-in sessions: checking a login, opening a session on a device, refreshing it.

A session is an access token plus a refresh token family on one device; a device has one
session at a time, so signing in again ends the earlier ones (a family that someone else
took over, by replaying a refresh token, ends with them). These functions
flush and never commit; the views commit (also after a refused login, so it is counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server.auth.devices import register_device
from server.auth.ratelimit import LoginLimits, check_login_allowed, record_login_attempt
from server.auth.refresh import (
    IssuedRefreshToken,
    issue_refresh_token,
    revoke_refresh_tokens,
    rotate_refresh_token,
)
from server.auth.settings import AuthSettings
from server.auth.tokens import issue_access_token
from server.models import Device, User
from server.services.users import normalize_email, verify_credentials


@dataclass(frozen=True)
class SignedIn:
    """A user signed in on a device, with the tokens the client keeps."""

    user: User
    device: Device
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def authenticate_login(session: Session, settings: AuthSettings, *, email: str, password: str,
                       address: str | None, now: datetime) -> User | None:
    """The active user these credentials name, or None; the attempt is recorded either way.

    Raises LoginThrottled, without checking the password, when the email or the address has
    too many recent failures.
    """
    email = normalize_email(email)
    check_login_allowed(session, login_limits(settings), email=email, address=address or "",
                        now=now)
    user = verify_credentials(session, email, password,
                              hash_method=settings.password_hash_method)
    record_login_attempt(session, email=email, address=address or "", success=user is not None,
                         now=now)
    return user


def open_session(session: Session, settings: AuthSettings, user: User, device_name: str, *,
                 address: str | None, now: datetime,
                 installation_id: str | None = None) -> SignedIn:
    """Register (or reuse) the installation's device, end its earlier sessions and issue a
    new token family for it.

    Raises DeviceNameRevoked if the user's device of that name was revoked, DeviceNameTaken
    (see server.auth.devices.register_device).
    """
    device = register_device(session, user, device_name, now=now, address=address,
                             installation_id=installation_id)
    revoke_refresh_tokens(session, device_id=device.id, now=now)
    refresh = issue_refresh_token(session, device_id=device.id, now=now,
                                  ttl=settings.refresh_ttl)
    return _signed_in(settings, user, device, refresh, now)


def refresh_session(session: Session, settings: AuthSettings, refresh_token: str, *,
                    now: datetime) -> SignedIn:
    """Spend a refresh token for a new access token and its successor refresh token.

    Raises the refresh errors of server.auth.refresh.rotate_refresh_token.
    """
    rotation = rotate_refresh_token(session, refresh_token, now=now, ttl=settings.refresh_ttl,
                                    grace=settings.refresh_reuse_grace)
    return _signed_in(settings, rotation.user, rotation.device, rotation.refresh, now)


def login_limits(settings: AuthSettings) -> LoginLimits:
    """The login rate limits of these settings."""
    return LoginLimits(per_user=settings.login_limit_per_user,
                       per_address=settings.login_limit_per_address,
                       window=settings.login_limit_window)


def _signed_in(settings: AuthSettings, user: User, device: Device,
               refresh: IssuedRefreshToken, now: datetime) -> SignedIn:
    access = issue_access_token(settings, user_id=user.id, device_id=device.id,
                                session_id=refresh.id, role=user.role, now=now)
    return SignedIn(
        user=user,
        device=device,
        access_token=access,
        expires_in=int(settings.access_ttl.total_seconds()),
        refresh_token=refresh.token,
        refresh_expires_in=int((refresh.expires_at - now).total_seconds()),
    )
