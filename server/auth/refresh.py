"""Refresh tokens: opaque, long-lived, rotating, revocable; stored only as SHA-256 hashes.

A login starts a family. Each refresh marks the presented token used and issues its successor
in the same family with a fresh full lifetime (sliding expiry: a laptop offline for a week
still refreshes). At most one token per family is live, i.e. neither used nor revoked.

A used token presented again means two parties hold the family, so the whole family is revoked
(refresh_token_reused). One exception keeps flaky field networks usable: if the token was used
less than the grace period ago and nothing later in its family was used yet, the client most
likely lost the response; its successor is revoked and a new one issued, so one live branch
remains.

An access token is bound to the refresh token issued with it and works while that token is
not revoked (server.auth.principal checks it on every request). So revoking a family, or a
device's tokens, ends their access tokens at once; spending a token by a normal rotation
does not, since a spent token is used, not revoked.

Functions flush and never commit; the caller commits, also before re-raising
RefreshTokenReused, so that the family's revocation sticks.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.auth.errors import (
    DeviceRevoked,
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReused,
    UserDisabled,
)
from server.models import Device, RefreshToken, User

TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedRefreshToken:
    """A newly issued refresh token: `token` is the only copy of the secret; `id` names the
    session that the access tokens issued with it belong to."""

    id: str
    token: str
    family_id: str
    device_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Rotation:
    """The result of a successful refresh: who it is for and the successor token."""

    user: User
    device: Device
    refresh: IssuedRefreshToken


def hash_refresh_token(token: str) -> str:
    """The stored form of a refresh token (hex SHA-256; the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_refresh_token(session: Session, *, device_id: str, now: datetime, ttl: timedelta,
                        family_id: str | None = None) -> IssuedRefreshToken:
    """Store and return a new refresh token for the device; a new family unless given one."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = RefreshToken(
        device_id=device_id,
        family_id=family_id or str(uuid.uuid4()),
        token_hash=hash_refresh_token(token),
        issued_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return IssuedRefreshToken(row.id, token, row.family_id, device_id, row.expires_at)


def rotate_refresh_token(session: Session, token: str, *, now: datetime, ttl: timedelta,
                         grace: timedelta) -> Rotation:
    """Spend `token` and issue its successor in the same family.

    Raises InvalidRefreshToken (unknown or revoked), RefreshTokenExpired, DeviceRevoked,
    UserDisabled, and RefreshTokenReused after revoking the family.
    """
    row, device, user = _load(session, token)
    _check_usable(row, device, user, now)
    if not _claim(session, row, now):
        _handle_reuse(session, row, now, grace)
    successor = issue_refresh_token(session, device_id=device.id, now=now, ttl=ttl,
                                    family_id=row.family_id)
    return Rotation(user, device, successor)


def revoke_refresh_tokens(session: Session, *, now: datetime, device_id: str | None = None,
                          user_id: str | None = None, family_id: str | None = None) -> int:
    """Revoke the live tokens of a device, a user or a family; return how many were revoked."""
    where = [RefreshToken.revoked_at.is_(None)]
    if device_id is not None:
        where.append(RefreshToken.device_id == device_id)
    if user_id is not None:
        devices = sa.select(Device.id).where(Device.user_id == user_id)
        where.append(RefreshToken.device_id.in_(devices))
    if family_id is not None:
        where.append(RefreshToken.family_id == family_id)
    if len(where) == 1:
        raise ValueError("name a device, a user or a family to revoke")
    stmt = sa.update(RefreshToken).where(*where).values(revoked_at=now)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def purge_expired_refresh_tokens(session: Session, *, now: datetime) -> int:
    """Delete tokens past their expiry (they can no longer be replayed); return the count."""
    stmt = sa.delete(RefreshToken).where(RefreshToken.expires_at <= now)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def _load(session: Session, token: str) -> tuple[RefreshToken, Device, User]:
    found = session.execute(
        sa.select(RefreshToken, Device, User)
        .join(Device, Device.id == RefreshToken.device_id)
        .join(User, User.id == Device.user_id)
        .where(RefreshToken.token_hash == hash_refresh_token(token))
    ).first()
    if found is None:
        raise InvalidRefreshToken()
    row, device, user = found
    return row, device, user


def _check_usable(row: RefreshToken, device: Device, user: User, now: datetime) -> None:
    if device.revoked_at is not None:
        raise DeviceRevoked()
    if not user.active:
        raise UserDisabled()
    if row.revoked_at is not None:
        raise InvalidRefreshToken()
    if row.expires_at <= now:
        raise RefreshTokenExpired()


def _claim(session: Session, row: RefreshToken, now: datetime) -> bool:
    # Compare-and-set: of two concurrent refreshes with one token, exactly one wins.
    stmt = (
        sa.update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def _handle_reuse(session: Session, row: RefreshToken, now: datetime, grace: timedelta) -> None:
    session.refresh(row)
    if now - row.used_at <= grace and not _family_used_since(session, row):
        _revoke_successor(session, row.family_id, now)
        return
    revoke_refresh_tokens(session, family_id=row.family_id, now=now)
    raise RefreshTokenReused()


def _revoke_successor(session: Session, family_id: str, now: datetime) -> None:
    # The spent token stays used but not revoked, so a second retry within the grace
    # period is recognised too.
    stmt = (
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def _family_used_since(session: Session, row: RefreshToken) -> bool:
    later = sa.select(RefreshToken.id).where(
        RefreshToken.family_id == row.family_id,
        RefreshToken.id != row.id,
        RefreshToken.used_at >= row.used_at,
    )
    return session.scalar(sa.select(later.exists())) is True
