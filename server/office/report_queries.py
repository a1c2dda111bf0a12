"""The office's reports as queries: each answers (columns, rows) and the (label, value)
pairs its chart draws. Money is summed from order lines; orders count once they are
approved or fulfilled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.domain.vocabulary import OrderStatus, WorkOrderStatus
from server.models import (
    Account,
    Order,
    OrderLine,
    Part,
    PartUsed,
    Territory,
    TimeEntry,
    User,
    Visit,
    WorkOrder,
)

SOLD = (OrderStatus.APPROVED, OrderStatus.FULFILLED)
FINISHED = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED)
OPEN_WORK = tuple(s for s in WorkOrderStatus
                  if s not in (*FINISHED, WorkOrderStatus.CANCELLED))


@dataclass(frozen=True)
class Report:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    chart: list[tuple[str, float]]
    unit: str = ""


def _period(conn: sa.Connection, column, pattern: str):
    """A timestamp as text by month ("%Y-%m") or ISO week ("%G-W%V"), in either dialect."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(column, {"%Y-%m": "YYYY-MM", "%G-W%V": 'IYYY-"W"IW'}[pattern])
    return sa.func.strftime({"%Y-%m": "%Y-%m", "%G-W%V": "%Y-W%W"}[pattern], column)


def sales(conn: sa.Connection, now: datetime) -> Report:
    month = _period(conn, Order.ordered_at, "%Y-%m").label("month")
    total = sa.func.sum(OrderLine.line_total).label("total")
    rows = conn.execute(
        sa.select(month, Territory.name, User.name, total).select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id).join(User, User.id == Order.rep_id)
        .join(Account, Account.id == Order.account_id)
        .join(Territory, Territory.id == Account.territory_id)
        .where(Order.status.in_(SOLD), Order.deleted_at.is_(None),
               OrderLine.deleted_at.is_(None))
        .group_by(month, Territory.name, User.name).order_by(month, Territory.name, User.name)
    ).all()
    by_month: dict[str, float] = {}
    for row in rows:
        by_month[row[0] or "undated"] = by_month.get(row[0] or "undated", 0) + float(row[3])
    return Report(["month", "territory", "rep", "sales"],
                  [(m, t, r, f"{v:.2f}") for m, t, r, v in rows], sorted(by_month.items()))


def pipeline(conn: sa.Connection, now: datetime) -> Report:
    lines = (sa.select(OrderLine.order_id, sa.func.sum(OrderLine.line_total).label("value"))
             .where(OrderLine.deleted_at.is_(None)).group_by(OrderLine.order_id).subquery())
    rows = conn.execute(
        sa.select(Order.status, sa.func.count(), sa.func.coalesce(sa.func.sum(lines.c.value), 0))
        .select_from(Order).outerjoin(lines, lines.c.order_id == Order.id)
        .where(Order.deleted_at.is_(None))
        .group_by(Order.status).order_by(Order.status)).all()
    order = {s: n for n, s in enumerate(OrderStatus)}
    rows = sorted(rows, key=lambda r: order.get(r[0], 99))
    return Report(["status", "orders", "value"], [(s, n, f"{v:.2f}") for s, n, v in rows],
                  [(str(s), n) for s, n, _ in rows])


def visits(conn: sa.Connection, now: datetime) -> Report:
    week = _period(conn, Visit.planned_at, "%G-W%V").label("week")
    rows = conn.execute(
        sa.select(User.name, week, sa.func.count()).select_from(Visit)
        .join(User, User.id == Visit.rep_id)
        .where(Visit.deleted_at.is_(None), Visit.status != "cancelled")
        .group_by(User.name, week).order_by(User.name, week)).all()
    per_rep: dict[str, float] = {}
    for rep, _, n in rows:
        per_rep[rep] = per_rep.get(rep, 0) + n
    return Report(["rep", "week", "visits"], [tuple(r) for r in rows], sorted(per_rep.items()))


def first_time_fix(conn: sa.Connection, now: datetime) -> Report:
    """A finished work order is fixed the first time when its labor was done in one visit
    (one labor time entry at most)."""
    labor = (sa.select(TimeEntry.work_order_id, sa.func.count().label("visits"))
             .where(TimeEntry.kind == "labor", TimeEntry.deleted_at.is_(None))
             .group_by(TimeEntry.work_order_id).subquery())
    first = sa.func.sum(sa.case((sa.func.coalesce(labor.c.visits, 0) <= 1, 1), else_=0))
    rows = conn.execute(
        sa.select(User.name, sa.func.count(), first).select_from(WorkOrder)
        .join(User, User.id == WorkOrder.technician_id)
        .outerjoin(labor, labor.c.work_order_id == WorkOrder.id)
        .where(WorkOrder.status.in_(FINISHED), WorkOrder.deleted_at.is_(None))
        .group_by(User.name).order_by(User.name)).all()
    table = [(name, n, int(f), f"{100 * f / n:.1f}") for name, n, f in rows]
    return Report(["technician", "finished", "first_time", "rate_pct"], table,
                  [(name, float(rate)) for name, _, _, rate in table], unit=" %")


def past_due(conn: sa.Connection, now: datetime) -> Report:
    rows = conn.execute(
        sa.select(WorkOrder.number, WorkOrder.title, Account.name, User.name, WorkOrder.status,
                  WorkOrder.due_at).select_from(WorkOrder)
        .join(Account, Account.id == WorkOrder.account_id)
        .outerjoin(User, User.id == WorkOrder.technician_id)
        .where(WorkOrder.due_at < now, WorkOrder.status.in_(OPEN_WORK),
               WorkOrder.deleted_at.is_(None))
        .order_by(WorkOrder.due_at).limit(1000)).all()
    per_tech: dict[str, float] = {}
    for row in rows:
        per_tech[row[3] or "unassigned"] = per_tech.get(row[3] or "unassigned", 0) + 1
    return Report(["number", "title", "account", "technician", "status", "due_at"],
                  [(*r[:5], r[5].strftime("%Y-%m-%d %H:%M")) for r in rows],
                  sorted(per_tech.items()))


def parts_used(conn: sa.Connection, now: datetime) -> Report:
    quantity = sa.func.sum(PartUsed.quantity)
    rows = conn.execute(
        sa.select(Part.part_number, Part.name, quantity, Part.unit_cost).select_from(PartUsed)
        .join(Part, Part.id == PartUsed.part_id).where(PartUsed.deleted_at.is_(None))
        .group_by(Part.part_number, Part.name, Part.unit_cost)
        .order_by(quantity.desc(), Part.part_number)).all()
    table = [(number, name, int(q), f"{q * cost:.2f}") for number, name, q, cost in rows]
    return Report(["part_number", "part", "quantity", "cost"], table,
                  [(name, q) for _, name, q, _ in table[:20]])


REPORTS = {
    "sales": ("Sales by rep, territory and month", sales),
    "pipeline": ("Order pipeline by status", pipeline),
    "visits": ("Visits per rep per week", visits),
    "first-time-fix": ("First-time fix rate by technician", first_time_fix),
    "past-due": ("Work orders past their due time", past_due),
    "parts-used": ("Parts used", parts_used),
}
