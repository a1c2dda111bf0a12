"""Reports: every one draws a chart and exports the same rows as CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Order, OrderLine, PartUsed
from server.office.report_queries import REPORTS, SOLD
from server.office.reports import _cell


def csv_rows(office, name: str) -> list[dict]:
    answer = office.get(f"/office/reports/{name}.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(answer.data.decode())))


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_has_a_chart_a_table_and_a_csv(office, name):
    page = office.get(f"/office/reports/{name}")
    assert page.status_code == 200
    assert b'<svg xmlns="http://www.w3.org/2000/svg"' in page.data and b'role="img"' in page.data
    rows = csv_rows(office, name)
    assert f"{len(rows)} rows".encode() in page.data


def test_sales_add_up_to_the_approved_and_fulfilled_order_lines(app, office):
    with app.app_context():
        expected = db.session.scalar(
            sa.select(sa.func.sum(OrderLine.line_total)).join(Order)
            .where(Order.status.in_(SOLD)))
    rows = csv_rows(office, "sales")
    assert rows and sum(Decimal(r["sales"]) for r in rows) == expected


def test_parts_used_counts_every_part_used(app, office):
    with app.app_context():
        expected = db.session.scalar(sa.select(sa.func.sum(PartUsed.quantity)))
    assert sum(int(r["quantity"]) for r in csv_rows(office, "parts-used")) == expected


def test_the_pipeline_counts_every_order_once(app, office):
    with app.app_context():
        expected = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
    assert sum(int(r["orders"]) for r in csv_rows(office, "pipeline")) == expected


def test_csv_cells_never_run_as_spreadsheet_formulas():
    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _cell("-12.50") == "-12.50" and _cell("@home") == "'@home"


def test_an_unknown_report_answers_404(office):
    assert office.get("/office/reports/nope").status_code == 404
