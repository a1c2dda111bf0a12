"""Data: every replicated entity, browsed, searched, filtered, sorted and paged; a record
with its related records, attachments and history; office edits through the engine.

An edit form carries the version it showed. Fields someone else changed since (the audit
trail says which) are not overwritten: the office user sees the newer values and decides
again, as a device's concurrent edit of the same field would be a conflict. Fields only this
edit changed are written, through the engine's server-side write like any office change.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from server.extensions import db
from server.models import User
from server.office import browse
from server.office.catalog import OWN_NAME, SORTS, name_of_table, views
from server.office.guard import office_required, office_user
from server.office.writes import write
from sync.entities import META_COLUMNS
from sync.errors import MutationRejected
from sync.protocol import Op

bp = Blueprint("data", __name__, url_prefix="/data")
CHOICE_LIMIT = 200


@bp.get("/")
@office_required()
def entities():
    return render_template("office/entities.html", views=views())


@bp.get("/<entity>")
@office_required()
def entity_list(entity: str):
    view = _view(entity)
    query = _query(view)
    try:
        page = browse.list_page(db.session.connection(), view, query)
    except ValueError:
        abort(400, description="This page link is not valid; start from the first page.")
    return render_template("office/list.html", view=view, query=query, page=page,
                           columns=_list_columns(view), sorts=SORTS, **_choices(),
                           first_args={k: v for k, v in request.args.items() if k != "after"})


@bp.get("/<entity>/<record_id>")
@office_required()
def record(entity: str, record_id: str):
    view = _view(entity)
    conn = db.session.connection()
    found = browse.get_record(conn, view, record_id)
    if found is None:
        abort(404, description=f"No {view.title} with this id.")
    return render_template(
        "office/record.html", view=view, record=found, related=browse.related(
            conn, view, record_id), history=browse.history(conn, entity, record_id),
        editable=_editable(view, found["data"]), display=_display,
        choices=_reference_choices(conn, view))


@bp.post("/<entity>/<record_id>")
@office_required()
def edit(entity: str, record_id: str):
    view = _view(entity)
    found = browse.get_record(db.session.connection(), view, record_id)
    if found is None:
        abort(404)
    changes = _changes(view, found["data"])
    taken = browse.changed_since(db.session.connection(), entity, record_id,
                                 request.form.get("version", type=int) or 0) & set(changes)
    if taken:
        flash("Someone changed " + ", ".join(sorted(taken)) + " since you opened the record; "
              "nothing was saved. Check the values and save again.", "error")
    elif changes:
        _save(entity, record_id, changes)
    return redirect(url_for(".record", entity=entity, record_id=record_id))


def _save(entity: str, record_id: str, changes: dict) -> None:
    try:
        write(office_user(), entity, record_id, Op.UPDATE, changes)
        flash("Saved: " + ", ".join(sorted(changes)) + ".", "ok")
    except MutationRejected as exc:
        details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in
                            (exc.fields or {}).items())
        flash(f"Not saved ({exc.code}): {exc.message}" + (f" ({details})" if details else ""),
              "error")


def _changes(view, data: dict) -> dict:
    """The submitted fields whose value differs from the record's, in wire form."""
    changes = {}
    for name in _editable(view, data):
        column = view.table.c[name]
        if isinstance(column.type, sa.Boolean):
            value = request.form.get(name) == "on"
            if value != bool(data.get(name)):
                changes[name] = value
            continue
        sent = request.form.get(name)
        if sent is None or sent == _display(data.get(name)):
            continue
        changes[name] = _wire(column, sent)
    return changes


def _wire(column: sa.Column, text: str):
    if text.strip() == "":
        return None
    if isinstance(column.type, sa.Integer):
        try:
            return int(text)
        except ValueError:
            return text  # the engine's validation names the field
    return text


def _display(value) -> str:
    return "" if value is None else str(value)


def _editable(view, data: dict) -> list[str]:
    return [c.name for c in view.table.c if c.name not in META_COLUMNS and c.name in data]


def _reference_choices(conn, view) -> dict[str, list]:
    """For each reference to a small table (territories, users, price lists...), its live
    rows as (id, name): the record page offers them in a list. Larger tables (accounts) are
    shown as a link and kept as they are."""
    choices = {}
    for column, table in view.references().items():
        name = name_of_table(table)
        live = [table.c.deleted_at.is_(None)] if "deleted_at" in table.c else []
        rows = conn.execute(sa.select(table.c.id, name).where(*live).order_by(name)
                            .limit(CHOICE_LIMIT + 1)).all()
        if len(rows) <= CHOICE_LIMIT:
            choices[column] = rows
    return choices


def _list_columns(view) -> list[str]:
    skip = {*META_COLUMNS, "description", "notes", "latitude", "longitude", "resolution"}
    return [c.name for c in view.table.c if c.name not in skip][:7]


def _view(entity: str):
    found = views().get(entity)
    if found is None:
        abort(404, description=f"No entity named {entity!r}.")
    return found


def _query(view) -> browse.Query:
    """The list's query from the URL. Records named by a reference (orders by their account)
    sort by last change unless asked: their name sort is a join, not an index scan."""
    args = request.args
    default = "name" if view.name in OWN_NAME else "updated_at"
    sort = args.get("sort", default)
    return browse.Query(
        search=args.get("q", "")[:100].strip(), territory=args.get("territory", ""),
        status=args.get("status", ""), owner=args.get("owner", ""),
        date_from=_date(args.get("from")), date_to=_date(args.get("to")),
        sort=sort if sort in SORTS else default,
        descending=args.get("dir", "asc" if default == "name" else "desc") == "desc",
        after=args.get("after", "")[:500])


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _choices() -> dict:
    from server.models import Territory

    territories = db.session.execute(sa.select(Territory.id, Territory.name).where(
        Territory.deleted_at.is_(None)).order_by(Territory.name)).all()
    owners = db.session.execute(sa.select(User.id, User.name, User.role).where(
        User.role.in_(("rep", "technician"))).order_by(User.name)).all()
    return {"territories": territories, "owners": owners}
