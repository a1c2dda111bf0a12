"""The back office in the browser, under /office/: server-rendered pages (Jinja), plain
forms, no script needed. Every page reuses the services of the JSON API: office edits go
through the sync engine's server-side write, approvals through the workflow rules the engine
enforces, conflict resolution through sync.conflicts.

`init_office(app)` installs the session interface and mounts the pages.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from server.office.guard import OfficeSessionInterface, check_csrf, csrf_token, office_user

bp = Blueprint("office", __name__, url_prefix="/office", template_folder="templates",
               static_folder="static", static_url_path="/static")


def init_office(app: Flask) -> None:
    """Mount the office on `app` (its session cookie is the office's sign-in)."""
    app.session_interface = OfficeSessionInterface()
    app.config["SESSION_COOKIE_NAME"] = "fieldsync_office"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.register_blueprint(bp)
    for path in ("/", "/admin", "/office"):  # where people look for the office
        app.add_url_rule(path, f"office_entry{path.replace('/', '_')}", _to_office)


def _to_office():
    return redirect(url_for("office.home.today"))


@bp.before_request
def _csrf():
    check_csrf()


@bp.after_request
def _no_store(response):
    # Office pages show personal and commercial data: not for shared caches or the
    # back button of a signed-out browser.
    if request.endpoint != "office.static":
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self'; frame-ancestors 'none'")
    return response


@bp.context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "office_user": office_user,
            "office_endpoints": current_app.view_functions, "office_views": _entity_names()}


def _entity_names() -> frozenset[str]:
    from server.domain import REGISTRY

    return frozenset(REGISTRY.specs)


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException):
    return render_template("office/error.html", error=exc), exc.code or 500


def _mount_pages() -> None:
    """Nest each page's blueprint under the office's (once, at import: Flask refuses to add
    to a blueprint after an app registered it)."""
    from server.office import auth, data, home, reports, review, work

    for page in (auth, home, data, review, work, reports):
        bp.register_blueprint(page.bp)


_mount_pages()
