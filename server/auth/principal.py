"""Who is calling: the bearer token checked on each request, and role checks on views.

The role that counts is the user's current role in the database, not the one in the token,
so a changed role applies from the next request; so do the scope keys (what the user may
see) and the session's validity (its refresh token not revoked), read in the same query.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, request

from server.auth import clock
from server.auth.devices import mark_device_seen, seen_recently
from server.auth.errors import (
    DeviceRevoked,
    InvalidToken,
    MissingCredentials,
    SessionRevoked,
    UserDisabled,
)
from server.auth.settings import AuthSettings
from server.auth.tokens import AccessClaims, decode_access_token
from server.domain.scopes import keys_of, scope_grants
from server.errors import forbidden
from server.extensions import db
from server.models import Device, RefreshToken, Role, User
from sync.entities import Actor

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of the current request."""

    user_id: str
    device_id: str
    role: Role
    keys: frozenset[str]  # the scope keys of what the user may see, as of this request
    stream_id: str | None = None  # the device's receipt stream (server.models.Device)

    def actor(self, device_id: str | None) -> Actor:
        """The caller as the sync engine's actor; `device_id` None for a write that does not
        come from the device (the back office's own writes)."""
        return Actor(user_id=self.user_id, role=str(self.role), keys=self.keys,
                     device_id=device_id, stream_id=self.stream_id if device_id else None)

    @property
    def user(self) -> User:
        """The caller's user row, loaded on first use: most views need only the ids."""
        return db.session.get_one(User, self.user_id)

    @property
    def device(self) -> Device:
        """The caller's device row, loaded on first use."""
        return db.session.get_one(Device, self.device_id)


def login_required(*roles: Role | str | Callable) -> Any:
    """Require a valid access token, and one of `roles` when any are given.

    Use as `@login_required()` (any signed-in user), `@login_required` or
    `@login_required(Role.ADMIN, Role.DISPATCHER)`. Missing or bad tokens answer 401, a role
    not listed answers 403 `forbidden`. Unknown role names fail at import time.
    """
    if len(roles) == 1 and callable(roles[0]) and not isinstance(roles[0], str):
        return login_required()(roles[0])
    allowed = frozenset(Role(r) for r in roles)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate_request()
            if allowed and principal.role not in allowed:
                raise forbidden()
            return view(*args, **kwargs)

        guarded.required_roles = allowed  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def current_principal() -> Principal:
    """The caller of the current request; only valid inside a `login_required` view.

    Raises RuntimeError elsewhere: that is a programming error, not a client's.
    """
    principal = g.get("principal")
    if principal is None:
        raise RuntimeError("current_principal() used in a view without @login_required")
    return principal


def authenticate_request() -> Principal:
    """Check the request's bearer token and its user and device now; remember the principal.

    Raises MissingCredentials, InvalidToken, TokenExpired, DeviceRevoked, UserDisabled or
    SessionRevoked.
    """
    settings = AuthSettings.from_config(current_app.config)
    now = clock.now()
    claims = decode_access_token(settings, bearer_token(), now=now)
    with _subject_connection() as conn:
        subject = _load_subject(conn, claims)
        if not seen_recently(subject.last_seen_at, now):
            mark_device_seen(conn, claims.device_id, now=now, address=request.remote_addr)
            conn.commit()
    g.principal = Principal(claims.user_id, claims.device_id, subject.role,
                            keys_of(claims.user_id, str(subject.role), subject.territories,
                                    subject.sites), subject.stream_id)
    return g.principal


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer <token>` header.

    Raises MissingCredentials when there is no such header.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials()
    return token.strip()


def _subject_connection() -> sa.Connection:
    """A connection of its own for the per-request check, so the view's session or
    transaction starts only when the view needs one. Its one read needs no transaction: on
    PostgreSQL it runs in autocommit mode, sparing a BEGIN and a ROLLBACK round trip."""
    conn = db.engine.connect()
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _load_subject(conn: sa.Connection, claims: AccessClaims) -> sa.Row:
    """The token's user's role and scope grants, its device's last sighting and whether its
    session is live, as they are now, in one query.

    Raises InvalidToken when the pair does not exist (or the device is another user's),
    DeviceRevoked, UserDisabled or SessionRevoked (the session's refresh token is revoked,
    or gone: purged after its expiry).
    """
    found = conn.execute(_SUBJECT, {"device_id": claims.device_id, "user_id": claims.user_id,
                                    "session_id": claims.session_id}).first()
    if found is None:
        raise InvalidToken()
    if found.revoked_at is not None:
        raise DeviceRevoked()
    if not found.active:
        raise UserDisabled()
    if found.session_id is None or found.session_revoked_at is not None:
        raise SessionRevoked()
    return found


_users, _devices, _sessions = User.__table__, Device.__table__, RefreshToken.__table__
_SUBJECT = (
    sa.select(_users.c.role, _users.c.active, _devices.c.revoked_at, _devices.c.last_seen_at,
              _devices.c.stream_id,
              _sessions.c.id.label("session_id"),
              _sessions.c.revoked_at.label("session_revoked_at"),
              *scope_grants(_users.c.id))
    .select_from(
        _users.join(_devices, _devices.c.user_id == _users.c.id)
        # By primary key: the session check adds no round trip and next to no work.
        .outerjoin(_sessions, sa.and_(_sessions.c.id == sa.bindparam("session_id"),
                                      _sessions.c.device_id == _devices.c.id)))
    .where(_devices.c.id == sa.bindparam("device_id"), _users.c.id == sa.bindparam("user_id"))
)
