"""Sign-in and sign-out of the office (dispatchers, back office, admins).

The same users and passwords as the API, and the same login rate limit (the attempt is
counted in login_attempt whether it succeeds or not). Reps and technicians are refused with
a page that says why: they work in the field app.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.auth import clock
from server.auth.errors import LoginThrottled
from server.auth.sessions import authenticate_login
from server.auth.settings import AuthSettings
from server.extensions import db
from server.models import OFFICE_ROLES
from server.office.guard import office_user, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.get("/sign-in")
def sign_in_form():
    if office_user() is not None:
        return redirect(url_for("office.home.today"))
    return render_template("office/sign_in.html", next=_next_page())


@bp.post("/sign-in")
def sign_in_submit():
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")[:1024]
    try:
        user = authenticate_login(db.session, AuthSettings.from_config(current_app.config),
                                  email=email, password=password,
                                  address=request.remote_addr, now=clock.now())
    except LoginThrottled as exc:
        return _refused(f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
                        429, email, {"Retry-After": str(exc.retry_after)})
    db.session.commit()  # the attempt counts even when the sign-in is refused
    if user is None:
        return _refused("Wrong email or password.", 401, email)
    if user.role not in OFFICE_ROLES:
        return _refused("The office is for dispatchers, back office and admins; "
                        "reps and technicians use the field app.", 403, email)
    sign_in(user)
    return redirect(_next_page() or url_for("office.home.today"))


@bp.post("/sign-out")
def sign_out_submit():
    sign_out()
    return redirect(url_for("office.auth.sign_in_form"))


def _refused(message: str, status: int, email: str, headers: dict | None = None):
    page = render_template("office/sign_in.html", error=message, email=email,
                           next=_next_page())
    return page, status, headers or {}


def _next_page() -> str | None:
    """Where to go after signing in: only a path inside the office (no open redirect)."""
    target = request.values.get("next", "")
    if target.startswith("/office/") and not target.startswith("/office//"):
        return target
    return None
