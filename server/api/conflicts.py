"""Conflicts and rejected changes: what the back office reviews and settles.

Office roles see everything; a rep or technician sees the conflicts and rejections of their
own changes. Only office roles may override an outcome.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, request
from marshmallow import Schema, fields, validate

from server.api.sync import sync_engine
from server.auth import current_principal, login_required
from server.errors import not_found
from server.extensions import db
from server.http import json_body, uuid_arg
from server.models import OFFICE_ROLES, SYNC_TABLES
from sync import conflicts
from sync.database import write_transaction

bp = Blueprint("conflicts", __name__, url_prefix="/api/v1")


class OverrideSchema(Schema):
    choose = fields.String(required=True, validate=validate.OneOf(conflicts.CHOICES))
    value = fields.Raw(allow_none=True, load_default=None)


def _own_user_filter() -> str | None:
    principal = current_principal()
    return None if principal.role in OFFICE_ROLES else principal.user_id


def _limit() -> int:
    return min(max(request.args.get("limit", 100, type=int), 1), 500)


@bp.get("/conflicts")
@login_required()
def list_conflicts():
    """Filters: ?status=open|resolved|overridden&entity=&record_id=&limit="""
    args = request.args
    with db.engine.connect() as conn:
        items = conflicts.list_conflicts(
            conn, SYNC_TABLES, status=args.get("status"), entity=args.get("entity"),
            record_id=uuid_arg("record_id"), user_id=_own_user_filter(), limit=_limit())
    return {"items": items}


@bp.get("/conflicts/<uuid:conflict_id>")
@login_required()
def get_conflict(conflict_id):
    conflict_id = str(conflict_id)
    with db.engine.connect() as conn:
        conflict = conflicts.get_conflict(conn, SYNC_TABLES, conflict_id)
    owner = _own_user_filter()
    if owner is not None and conflict["user_id"] != owner:
        raise not_found(f"no conflict {conflict_id}")
    return conflict


@bp.post("/conflicts/<uuid:conflict_id>/override")
@login_required(*OFFICE_ROLES)
def override_conflict(conflict_id):
    """Body: {"choose": "server"|"client"|"value", "value": ...}."""
    conflict_id = str(conflict_id)
    body = json_body(OverrideSchema())
    principal = current_principal()
    db.session.rollback()
    with write_transaction(db.engine) as conn:
        actor = principal.actor(None)
        return conflicts.override(conn, sync_engine(), conflict_id, choose=body["choose"],
                                  value=body["value"], actor=actor)


@bp.get("/rejections")
@login_required()
def list_rejections():
    """Rejected mutations with their full payload, newest first; ?device_id= filters."""
    r = SYNC_TABLES.rejection
    query = sa.select(r).order_by(r.c.created_at.desc(), r.c.id).limit(_limit())
    if owner := _own_user_filter():
        query = query.where(r.c.user_id == owner)
    if device_id := uuid_arg("device_id"):
        query = query.where(r.c.device_id == device_id)
    rows = db.session.execute(query)
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["created_at"] = item["created_at"].isoformat().replace("+00:00", "Z")
        items.append(item)
    return {"items": items}
