"""Who is calling: the bearer token checked on each request, and role checks on views.

The role that counts is the user's current role in the database, not the one in the token,
so a changed role applies from the next request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, request

from server.auth import clock
from server.auth.devices import touch_device
from server.auth.errors import DeviceRevoked, InvalidToken, MissingCredentials, UserDisabled
from server.auth.settings import AuthSettings
from server.auth.tokens import AccessClaims, decode_access_token
from server.errors import forbidden
from server.extensions import db
from server.models import Device, Role, User

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of the current request."""

    user_id: str
    device_id: str
    role: Role
    user: User
    device: Device


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
    """Check the request's bearer token, load its user and device, remember the principal.

    Raises MissingCredentials, InvalidToken, TokenExpired, DeviceRevoked or UserDisabled.
    """
    settings = AuthSettings.from_config(current_app.config)
    now = clock.now()
    claims = decode_access_token(settings, bearer_token(), now=now)
    user, device = _load_subject(claims)
    g.principal = Principal(user.id, device.id, user.role, user, device)
    if touch_device(db.session, device, now=now, address=request.remote_addr):
        db.session.commit()
    return g.principal


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer <token>` header.

    Raises MissingCredentials when there is no such header.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials()
    return token.strip()


def _load_subject(claims: AccessClaims) -> tuple[User, Device]:
    found = db.session.execute(
        sa.select(User, Device)
        .join(Device, Device.user_id == User.id)
        .where(Device.id == claims.device_id, User.id == claims.user_id)
    ).first()
    if found is None:
        raise InvalidToken()
    user, device = found
    if device.revoked_at is not None:
        raise DeviceRevoked()
    if not user.active:
        raise UserDisabled()
    return user, device
