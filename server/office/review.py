"""Conflicts and rejections: the queue the back office works through.

Conflicts are listed by record, newest first, so a record's sibling conflicts are settled
together. One form resolves any number of them: per conflict keep the current value, take
the device's value, or set a value; each choice is a sync.conflicts.override, as the JSON
API's. Rejections show the full mutation, the reason, the device and the user, and can be
narrowed to one reason.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from server.extensions import db
from server.models import SYNC_TABLES, Device, User
from server.office.browse import lookup_names
from server.office.catalog import views
from server.office.guard import office_required, office_user
from server.office.writes import override
from sync import conflicts
from sync.errors import InvalidCursor, SyncError

bp = Blueprint("review", __name__)
PAGE = 50


@bp.get("/conflicts")
@office_required()
def conflict_queue():
    status = request.args.get("status", "open")
    wanted = conflicts.ConflictFilter(status=status if status in conflicts.STATUSES else None)
    items, after = _page(lambda conn, cursor: conflicts.list_conflicts(
        conn, SYNC_TABLES, wanted, after=cursor, limit=PAGE))
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in items:
        groups.setdefault((item["entity"], item["record_id"]), []).append(item)
    siblings = _open_siblings(groups)
    return render_template("office/conflicts.html", groups=groups, siblings=siblings,
                           status=status, next=after, people=_people(items),
                           labels=_record_labels(groups), as_json=_as_json)


@bp.post("/conflicts")
@office_required()
def resolve():
    done = failed = 0
    for key, choice in request.form.items():
        if not key.startswith("choose-") or choice not in conflicts.CHOICES:
            continue
        conflict_id = key.removeprefix("choose-")
        try:
            override(office_user(), conflict_id, choice, _value(conflict_id, choice))
            done += 1
        except SyncError as exc:
            failed += 1
            flash(f"Conflict {conflict_id[:8]} not resolved ({exc.code}): {exc.message}",
                  "error")
    if done:
        flash(f"Resolved {done} conflict{'s' if done != 1 else ''}.", "ok")
    elif not failed:
        flash("Choose an outcome for at least one conflict.", "error")
    return redirect(url_for(".conflict_queue"))


@bp.get("/rejections")
@office_required()
def rejections():
    code = request.args.get("code") or None
    items, after = _page(lambda conn, cursor: conflicts.list_rejections(
        conn, SYNC_TABLES, after=cursor, limit=PAGE, code=code))
    r = SYNC_TABLES.rejection
    reasons = db.session.execute(sa.select(r.c.code, sa.func.count()).group_by(r.c.code)
                                 .order_by(sa.func.count().desc())).all()
    return render_template("office/rejections.html", items=items, next=after, code=code,
                           reasons=reasons, people=_people(items), as_json=_as_json)


def _page(read):
    try:
        with db.engine.connect() as conn:
            return read(conn, request.args.get("after") or None)
    except InvalidCursor:
        abort(400, description="This page link is not valid; start from the first page.")


def _value(conflict_id: str, choice: str):
    """The value a "set a value" choice typed, as the field's wire type when it parses as
    JSON (a number, true, null), else as text."""
    if choice != "value":
        return None
    text = request.form.get(f"value-{conflict_id}", "")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _open_siblings(groups) -> dict[tuple[str, str], int]:
    """How many open conflicts each listed record has in all (some may be on later pages)."""
    if not groups:
        return {}
    c = SYNC_TABLES.conflict
    rows = db.session.execute(
        sa.select(c.c.entity, c.c.record_id, sa.func.count())
        .where(c.c.status == "open", c.c.record_id.in_([k[1] for k in groups]))
        .group_by(c.c.entity, c.c.record_id)).all()
    return {(e, r): n for e, r, n in rows}


def _people(items) -> dict[str, dict[str, str]]:
    return {"users": lookup_names(db.session.connection(), User.__table__,
                                  {i["user_id"] for i in items if i.get("user_id")}),
            "devices": lookup_names(db.session.connection(), Device.__table__,
                                    {i["device_id"] for i in items if i.get("device_id")})}


def _record_labels(groups) -> dict[tuple[str, str], str]:
    labels, by_entity = {}, {}
    for entity, record_id in groups:
        by_entity.setdefault(entity, set()).add(record_id)
    known = views()
    for entity, ids in by_entity.items():
        if entity in known:
            name, source = known[entity].name_column()
            table = known[entity].table
            for row in db.session.execute(sa.select(table.c.id, name).select_from(source)
                                          .where(table.c.id.in_(sorted(ids)))):
                labels[(entity, row[0])] = row[1]
    return labels


def _as_json(value) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)
