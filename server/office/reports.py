"""Reports: a server-drawn chart and a table, each exportable as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, render_template

from server.auth import clock
from server.extensions import db
from server.office.charts import bar_chart
from server.office.guard import office_required
from server.office.report_queries import REPORTS

bp = Blueprint("reports", __name__, url_prefix="/reports")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@bp.get("/")
@office_required()
def index():
    return render_template("office/reports.html", reports=REPORTS)


@bp.get("/<name>")
@office_required()
def report(name: str):
    title, report = _run(name)
    return render_template("office/report.html", name=name, title=title, report=report,
                           chart=bar_chart(report.chart, title=title, unit=report.unit))


@bp.get("/<name>.csv")
@office_required()
def report_csv(name: str):
    _, report = _run(name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    writer.writerows([_cell(v) for v in row] for row in report.rows)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="fieldsync-{name}.csv"'})


def _run(name: str):
    if name not in REPORTS:
        abort(404, description=f"No report named {name!r}.")
    title, query = REPORTS[name]
    return title, query(db.session.connection(), clock.now())


def _cell(value):
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
