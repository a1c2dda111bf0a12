"""The office's browser session: who is signed in, the CSRF token, the role gate.

The session lives in Flask's signed cookie (HttpOnly, SameSite=Lax, Secure on HTTPS, see
`OfficeSessionInterface`). It holds the user's id, a fingerprint of the password hash (so
setting a password ends browser sessions as it ends device sessions) and the CSRF token.
Each request reads the user again: a disabled user, or one whose role is no longer an
office role, is signed out at once.

CSRF: every state-changing request under /office carries the session's token, in the form
field `csrf_token` or the `X-CSRF-Token` header; it is compared in constant time. A
synchronizer token needs no extra dependency and is a dozen lines; SameSite=Lax already
keeps the cookie off cross-site POSTs in current browsers, the token covers the others.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import abort, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from server.extensions import db
from server.models import OFFICE_ROLES, Role, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_KEY = "fieldsync.office_user"


class OfficeSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure whenever the request came over HTTPS (directly
    or through the trusted proxy, whose X-Forwarded-Proto ProxyFix applies) and SameSite=Lax
    unless configured otherwise."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_cookie_samesite(self, app) -> str:
        return app.config["SESSION_COOKIE_SAMESITE"] or "Lax"


def sign_in(user: User) -> None:
    """Start a fresh office session for `user` (a new CSRF token: no session fixation)."""
    session.clear()
    session["office_user"] = user.id
    session["office_pw"] = _fingerprint(user.password_hash)
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = False


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The session's CSRF token (made on first use, so the sign-in form has one too)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Abort 400 unless a state-changing request carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; "
                               "reload the page and try again.")


def office_user() -> User | None:
    """The signed-in office user of this request, checked against the database now (once
    per request: kept in the request's environ, not in `g`, which an app context that
    outlives the request would carry over)."""
    if CACHE_KEY in request.environ:
        return request.environ[CACHE_KEY]
    user_id = session.get("office_user")
    user = db.session.get(User, user_id) if user_id else None
    if user is not None and not _still_valid(user):
        sign_out()
        user = None
    request.environ[CACHE_KEY] = user
    return user


def office_required(*roles: Role) -> Callable:
    """Views for signed-in office users (of `roles` when given; 403 for the others)."""
    allowed = frozenset(roles) or frozenset(OFFICE_ROLES)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = office_user()
            if user is None:
                return redirect(url_for("office.auth.sign_in_form", next=request.full_path))
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def _still_valid(user: User) -> bool:
    return (user.active and user.role in OFFICE_ROLES
            and hmac.compare_digest(session.get("office_pw", ""),
                                    _fingerprint(user.password_hash)))


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(b"office-session:" + password_hash.encode()).hexdigest()[:32]
