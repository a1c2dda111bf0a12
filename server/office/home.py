"""The office's landing page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from server.office.guard import office_required

bp = Blueprint("home", __name__)


@bp.get("/")
@office_required()
def today():
    return render_template("office/today.html")


def index_redirect():
    return redirect(url_for("office.home.today"))
