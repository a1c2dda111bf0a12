"""Devices: registered at login under a name unique per user, seen, revoked.

A device is what a refresh token family and every access token are bound to, so revoking it
ends its sessions at once. A revoked device name stays revoked; signing in again needs a new
name, so an administrator's revocation cannot be undone by the thief who holds the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth.errors import DeviceNameRevoked
from server.auth.refresh import revoke_refresh_tokens
from server.models import Device, User

# last_seen_at is a coarse "is this laptop still syncing" signal; writing it on every
# request would turn every read into a write.
SEEN_RESOLUTION = timedelta(minutes=1)
MAX_ADDRESS_LENGTH = 45


def register_device(session: Session, user: User, name: str, *, now: datetime,
                    address: str | None) -> Device:
    """The user's device called `name`, created if new, marked seen now.

    Raises DeviceNameRevoked if that device was revoked.
    """
    device = _find(session, user.id, name) or _create(session, user, name, now)
    if device.revoked_at is not None:
        raise DeviceNameRevoked()
    device.last_seen_at = now
    device.last_seen_ip = _address(address)
    session.flush()
    return device


def seen_recently(last_seen_at: datetime | None, now: datetime) -> bool:
    """Whether a device seen at `last_seen_at` needs no new mark at `now`."""
    return last_seen_at is not None and now - last_seen_at < SEEN_RESOLUTION


def mark_device_seen(conn: sa.Connection, device_id: str, *, now: datetime,
                     address: str | None) -> None:
    """Record that the device was seen now, from `address` (the caller commits).

    Callers mark a device only when not `seen_recently`, so a read stays a read.
    """
    devices = Device.__table__
    conn.execute(devices.update().where(devices.c.id == device_id)
                 .values(last_seen_at=now, last_seen_ip=_address(address)))


def revoke_device(session: Session, device: Device, *, now: datetime) -> None:
    """Revoke the device and its refresh tokens; its access tokens fail from the next request.

    Revoking a revoked device changes nothing (the first revocation time is kept).
    """
    if device.revoked_at is None:
        device.revoked_at = now
    revoke_refresh_tokens(session, device_id=device.id, now=now)
    session.flush()


def _find(session: Session, user_id: str, name: str) -> Device | None:
    return session.scalar(sa.select(Device).where(Device.user_id == user_id, Device.name == name))


def _create(session: Session, user: User, name: str, now: datetime) -> Device:
    device = Device(user_id=user.id, name=name, created_at=now)
    try:
        with session.begin_nested():
            session.add(device)
    except IntegrityError:
        # The same device signed in twice at once: use the row the other request made.
        found = _find(session, user.id, name)
        if found is None:
            raise
        return found
    return device


def _address(address: str | None) -> str | None:
    return address[:MAX_ADDRESS_LENGTH] if address else None
