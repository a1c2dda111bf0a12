"""The /api/v1/auth endpoints: login, refresh, logout, me.

login and refresh are public (they are how a client gets a token); logout and me need one.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from server.auth import clock
from server.auth.errors import InvalidCredentials, LoginThrottled, RefreshTokenReused
from server.auth.principal import current_principal, login_required
from server.auth.refresh import revoke_refresh_tokens
from server.auth.schemas import LoginSchema, MeSchema, RefreshSchema, SessionSchema
from server.auth.sessions import authenticate_login, open_session, refresh_session
from server.auth.settings import AuthSettings
from server.extensions import db
from server.http import json_body

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
def login():
    """Sign in on a named device: answers an access token, a refresh token, user and device.

    401 invalid_credentials (same answer for an unknown email, a wrong password and a disabled
    account), 403 device_name_revoked, 409 device_name_taken, 429 rate_limited with
    Retry-After.
    """
    body = json_body(LoginSchema())
    settings, now = _settings(), clock.now()
    user = _checked_login(settings, body, now)
    signed_in = open_session(db.session, settings, user, body["device_name"],
                             address=request.remote_addr, now=now,
                             installation_id=body["installation_id"])
    db.session.commit()
    return SessionSchema().dump(signed_in)


@bp.post("/refresh")
def refresh():
    """Spend a refresh token for a new access token and a new refresh token.

    401 invalid_refresh_token, refresh_token_expired, refresh_token_reused (the family is
    revoked), device_revoked or user_disabled.
    """
    body = json_body(RefreshSchema())
    try:
        signed_in = refresh_session(db.session, _settings(), body["refresh_token"],
                                    now=clock.now())
    except RefreshTokenReused:
        db.session.commit()  # keep the family's revocation although the request fails
        raise
    db.session.commit()
    return SessionSchema().dump(signed_in)


@bp.post("/logout")
@login_required()
def logout():
    """Revoke the calling device's refresh tokens; its access tokens stop working at once."""
    revoke_refresh_tokens(db.session, device_id=current_principal().device_id, now=clock.now())
    db.session.commit()
    return "", 204


@bp.get("/me")
@login_required()
def me():
    """The calling user and device."""
    principal = current_principal()
    return MeSchema().dump({"user": principal.user, "device": principal.device})


@bp.after_request
def _retry_after_header(response):
    # server.errors renders the 429 body; the header it cannot know comes from here.
    retry_after = g.pop("login_retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _checked_login(settings: AuthSettings, body: dict, now):
    try:
        user = authenticate_login(db.session, settings, email=body["email"],
                                  password=body["password"], address=request.remote_addr,
                                  now=now)
    except LoginThrottled as exc:
        g.login_retry_after = exc.retry_after
        raise
    db.session.commit()  # the attempt counts even when the login is refused
    if user is None:
        raise InvalidCredentials()
    return user


def _settings() -> AuthSettings:
    return AuthSettings.from_config(current_app.config)
