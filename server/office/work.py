"""Approvals and the dispatch board.

Approving or sending back an order is a status change written through the engine, so the
order workflow (server.domain.workflows) decides who may: the buttons are shown to the roles
it allows and the engine refuses the others. The board assigns and reschedules work orders
the same way; the technician's device gets the change on its next sync, like any change.
Days are UTC days (the server's clock), as the wire's timestamps are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for

from server.domain.vocabulary import OrderStatus, WorkOrderStatus
from server.domain.workflows import ORDER
from server.extensions import db
from server.models import Account, Order, OrderLine, Part, PartUsed, User, VanStock, WorkOrder
from server.office.guard import office_required, office_user
from server.office.writes import write
from sync.errors import MutationRejected
from sync.protocol import Op

bp = Blueprint("work", __name__)
W = WorkOrderStatus
PLANNING = (W.NEW, W.SCHEDULED, W.DISPATCHED)
ON_THE_BOARD = (*PLANNING, W.IN_PROGRESS, W.ON_HOLD)
DECISIONS = {"approve": OrderStatus.APPROVED, "send_back": OrderStatus.REJECTED}


@bp.get("/approvals")
@office_required()
def approvals():
    o, a, u = Order.__table__, Account.__table__, User.__table__
    lines = (sa.select(OrderLine.order_id, sa.func.count().label("lines"),
                       sa.func.sum(OrderLine.line_total).label("total"))
             .where(OrderLine.deleted_at.is_(None)).group_by(OrderLine.order_id).subquery())
    rows = db.session.execute(
        sa.select(o.c.id, o.c.ordered_at, o.c.notes, o.c.version, a.c.name.label("account"),
                  u.c.name.label("rep"), lines.c.lines, lines.c.total)
        .join(a, a.c.id == o.c.account_id).join(u, u.c.id == o.c.rep_id)
        .outerjoin(lines, lines.c.order_id == o.c.id)
        .where(o.c.status == OrderStatus.SUBMITTED, o.c.deleted_at.is_(None))
        .order_by(o.c.ordered_at, o.c.id).limit(200)).all()
    role = str(office_user().role)
    may = {d: ORDER.refusal(role, OrderStatus.SUBMITTED, s) is None
           for d, s in DECISIONS.items()}
    return render_template("office/approvals.html", rows=rows, may=may)


@bp.post("/approvals/<order_id>")
@office_required()
def decide(order_id: str):
    status = DECISIONS.get(request.form.get("decision", ""))
    if status is None:
        flash("Choose approve or send back.", "error")
    else:
        _write("order", order_id, {"status": status},
               f"Order {'approved' if status == OrderStatus.APPROVED else 'sent back'}.")
    return redirect(url_for(".approvals"))


@bp.get("/dispatch")
@office_required()
def dispatch():
    day = _day(request.args.get("day"))
    start = datetime.combine(day, time.min, UTC)
    technicians = db.session.execute(
        sa.select(User.id, User.name).where(User.role == "technician", User.active)
        .order_by(User.name)).all()
    jobs = _jobs(start)
    stock = _van_stock([j.id for j in jobs])
    return render_template(
        "office/dispatch.html", day=day, technicians=technicians, stock=stock,
        unassigned=[j for j in jobs if j.technician_id is None],
        by_technician={t.id: [j for j in jobs if j.technician_id == t.id] for t in technicians},
        statuses=[s for s in PLANNING if s != W.NEW], prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1))


@bp.post("/dispatch/<work_order_id>")
@office_required()
def assign(work_order_id: str):
    technician = request.form.get("technician_id") or None
    when = request.form.get("scheduled_start", "")
    fields = {"technician_id": technician,
              "scheduled_start": f"{when}:00Z" if len(when) == 16 else (when or None),
              "status": request.form.get("status") or W.SCHEDULED}
    _write("work_order", work_order_id, fields, "Work order assigned." if technician
           else "Work order unassigned.")
    return redirect(url_for(".dispatch", day=request.form.get("day") or None))


def _jobs(start: datetime) -> list[sa.Row]:
    """The day's work orders, and every unassigned open one (scheduled or not)."""
    w, a = WorkOrder.__table__, Account.__table__
    on_day = sa.and_(w.c.scheduled_start >= start,
                     w.c.scheduled_start < start + timedelta(days=1))
    return db.session.execute(
        sa.select(w, a.c.name.label("account")).join(a, a.c.id == w.c.account_id)
        .where(w.c.deleted_at.is_(None), w.c.status.in_(ON_THE_BOARD),
               sa.or_(on_day, w.c.technician_id.is_(None)))
        .order_by(w.c.scheduled_start.is_(None), w.c.scheduled_start, w.c.id)
        .limit(500)).all()


def _van_stock(job_ids: list[str]) -> dict[str, list[dict]]:
    """Per job: each part it lists, with how many every technician carries."""
    if not job_ids:
        return {}
    used = db.session.execute(
        sa.select(PartUsed.work_order_id, PartUsed.part_id, PartUsed.quantity, Part.name)
        .join(Part, Part.id == PartUsed.part_id)
        .where(PartUsed.work_order_id.in_(job_ids), PartUsed.deleted_at.is_(None))).all()
    vans = db.session.execute(
        sa.select(VanStock.part_id, VanStock.technician_id, VanStock.quantity).where(
            VanStock.part_id.in_({u.part_id for u in used}), VanStock.deleted_at.is_(None))
    ).all() if used else []
    carried = {(v.part_id, v.technician_id): v.quantity for v in vans}
    stock: dict[str, list[dict]] = {}
    for u in used:
        stock.setdefault(u.work_order_id, []).append({
            "part": u.name, "needed": u.quantity,
            "vans": {t: q for (p, t), q in carried.items() if p == u.part_id}})
    return stock


def _write(entity: str, record_id: str, fields: dict, done: str) -> None:
    try:
        write(office_user(), entity, record_id, Op.UPDATE, fields)
        flash(done, "ok")
    except MutationRejected as exc:
        flash(f"Not saved ({exc.code}): {exc.message}", "error")


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError:
        return datetime.now(UTC).date()

