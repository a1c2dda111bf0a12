"""Devices: registered at login under a name unique per user, seen, revoked.

A device is what a refresh token family and every access token are bound to, so revoking it
ends its sessions at once. A revoked device name stays revoked; signing in again needs a new
name, so an administrator's revocation cannot be undone by the thief who holds the password.

A device belongs to one client installation (docs/protocol.md §3, §9): an installation
signing in again gets its device back, whatever name it gives, and one signing in after its
device was revoked gets a new device continuing the old one's receipt stream. Two
installations never share a device: a name another installation holds is given a number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth.errors import DeviceNameRevoked, DeviceNameTaken
from server.auth.refresh import revoke_refresh_tokens
from server.models import Device, User, new_id

# last_seen_at is a coarse "is this laptop still syncing" signal; writing it on every
# request would turn every read into a write.
SEEN_RESOLUTION = timedelta(minutes=1)
MAX_ADDRESS_LENGTH = 45
MAX_NAME_LENGTH = 120


def register_device(session: Session, user: User, name: str, *, now: datetime,
                    address: str | None, installation_id: str | None = None) -> Device:
    """The device of `installation_id` (None: of a client that sends none) for the user,
    created if new under `name`, marked seen now.

    Raises DeviceNameRevoked if the user's device called `name` was revoked, and
    DeviceNameTaken when a client sending no installation id names another's device.
    """
    try:
        with session.begin_nested():
            device = _resolve(session, user, name, installation_id, now)
    except IntegrityError:
        # A login at the same moment made this device or took the name: look again.
        device = _resolve(session, user, name, installation_id, now)
    device.last_seen_at = now
    device.last_seen_ip = _address(address)
    session.flush()
    return device


def _resolve(session: Session, user: User, name: str, installation_id: str | None,
             now: datetime) -> Device:
    named = _find(session, user.id, name)
    if named is not None and named.revoked_at is not None:
        raise DeviceNameRevoked()
    if installation_id is None:
        return _unbound(session, user, name, named, now)
    return _installation_device(session, user, name, named, installation_id, now)


def _unbound(session: Session, user: User, name: str, named: Device | None,
             now: datetime) -> Device:
    """A client sending no installation id: one device per name, as before ids."""
    if named is not None and named.installation_id is not None:
        raise DeviceNameTaken()
    return named or _create(session, user, name, None, None, now)


def _installation_device(session: Session, user: User, name: str, named: Device | None,
                   installation_id: str, now: datetime) -> Device:
    """The installation's active device; else the unbound one of that name it takes over
    (its first login with an id); else a new one, continuing its revoked ones' stream."""
    own = _installed(session, user.id, installation_id)
    active = next((d for d in own if d.revoked_at is None), None)
    if active is not None:
        return active
    if not own and named is not None and named.installation_id is None:
        # A client that sent no installation id before: the installation it has become.
        named.installation_id = installation_id
        return named
    if named is not None:
        name = _free_name(session, user.id, name)
    return _create(session, user, name, installation_id, own[0].stream_id if own else None,
                   now)


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


def _installed(session: Session, user_id: str, installation_id: str) -> list[Device]:
    """The user's devices of that installation, first signed in first."""
    return list(session.scalars(
        sa.select(Device).where(Device.user_id == user_id,
                                Device.installation_id == installation_id)
        .order_by(Device.created_at, Device.id)))


def _free_name(session: Session, user_id: str, name: str) -> str:
    """`name` numbered ("Tara's laptop (2)") to a name none of the user's devices has."""
    taken = set(session.scalars(sa.select(Device.name).where(Device.user_id == user_id)))
    for number in range(2, len(taken) + 3):
        suffix = f" ({number})"
        numbered = name[:MAX_NAME_LENGTH - len(suffix)] + suffix
        if numbered not in taken:
            return numbered
    raise AssertionError("unreachable: fewer names are taken than tried")


def _create(session: Session, user: User, name: str, installation_id: str | None,
            stream_id: str | None, now: datetime) -> Device:
    device_id = new_id()
    device = Device(id=device_id, user_id=user.id, name=name, installation_id=installation_id,
                    stream_id=stream_id or device_id, created_at=now)
    session.add(device)
    session.flush()  # a taken name fails here, inside the caller's savepoint
    return device


def _address(address: str | None) -> str | None:
    return address[:MAX_ADDRESS_LENGTH] if address else None
