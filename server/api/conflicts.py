"""Conflicts and rejected changes: what the back office reviews and settles.

Office roles see everything; a rep or technician sees the conflicts and rejections of their
own changes. Only office roles may override an outcome. Lists page newest first with a
cursor (docs/protocol.md §10.3).
"""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, fields, validate

from server.api.sync import sync_engine
from server.auth import current_principal, login_required
from server.domain import REGISTRY
from server.errors import not_found
from server.extensions import db
from server.http import json_body
from server.models import OFFICE_ROLES, SYNC_TABLES
from sync import conflicts
from sync.database import retrying
from sync.paging import page_limit

bp = Blueprint("conflicts", __name__, url_prefix="/api/v1")

MAX_MUTATION_IDS = 100
MAX_MUTATION_ID = 2**63 - 1


class OverrideSchema(Schema):
    choose = fields.String(required=True, validate=validate.OneOf(
        (*conflicts.CHOICES, *conflicts.ALIASES)))
    value = fields.Raw(allow_none=True, load_default=None)


class PageArgs(Schema):
    """Query parameters every list takes; unknown ones are ignored."""

    class Meta:
        unknown = "exclude"

    limit = fields.Integer(load_default=None)
    after = fields.String(load_default=None, validate=validate.Length(max=200))
    entity = fields.String(load_default=None, validate=validate.OneOf(sorted(REGISTRY.specs)))
    record_id = fields.UUID(load_default=None)
    device_id = fields.UUID(load_default=None)


class ConflictArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(conflicts.STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(conflicts.KINDS))
    mutation_id = fields.List(fields.Integer(validate=validate.Range(0, MAX_MUTATION_ID)),
                              load_default=list,
                              validate=validate.Length(max=MAX_MUTATION_IDS))


class RejectionArgs(PageArgs):
    code = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z_]{1,40}$"))


def _args(schema: Schema) -> dict:
    """The query parameters through `schema` (422 validation_failed naming the bad ones),
    with UUIDs as text and the page size clamped."""
    multi = {"mutation_id": request.args.getlist("mutation_id")}
    loaded = schema.load({**request.args.to_dict(), **multi} if "mutation_id" in schema.fields
                         else request.args.to_dict())
    for name in ("record_id", "device_id"):
        if loaded[name] is not None:
            loaded[name] = str(loaded[name])
    loaded["limit"] = page_limit(loaded["limit"])
    return loaded


def _own_user_filter() -> str | None:
    principal = current_principal()
    return None if principal.role in OFFICE_ROLES else principal.user_id


@bp.get("/conflicts")
@login_required()
def list_conflicts():
    """Filters: status, entity, record_id, kind, device_id, mutation_id (repeatable); paged
    with after/limit."""
    args = _args(ConflictArgs())
    wanted = conflicts.ConflictFilter(
        status=args["status"], entity=args["entity"], record_id=args["record_id"],
        kind=args["kind"], device_id=args["device_id"], user_id=_own_user_filter(),
        mutation_ids=tuple(args["mutation_id"]))
    with db.engine.connect() as conn:
        items, after = conflicts.list_conflicts(conn, SYNC_TABLES, wanted, after=args["after"],
                                                limit=args["limit"])
    return {"items": items, "next": after}


@bp.get("/conflicts/<uuid:conflict_id>")
@login_required()
def get_conflict(conflict_id):
    with db.engine.connect() as conn:
        conflict = conflicts.get_conflict(conn, SYNC_TABLES, str(conflict_id))
    owner = _own_user_filter()
    if owner is not None and conflict["user_id"] != owner:
        raise not_found(f"no conflict {conflict_id}")
    return conflict


@bp.post("/conflicts/<uuid:conflict_id>/override")
@login_required(*OFFICE_ROLES)
def override_conflict(conflict_id):
    """Body: {"choose": "current"|"device"|"value", "value": ...}; "server" and "client" are
    the version 1 names of "current" and "device"."""
    body = json_body(OverrideSchema())
    principal = current_principal()
    db.session.rollback()
    return retrying(db.engine, lambda conn: conflicts.override(
        conn, sync_engine(), str(conflict_id), choose=body["choose"], value=body["value"],
        actor=principal.actor(None)))


@bp.get("/rejections")
@login_required()
def list_rejections():
    """Rejected mutations with their full payload, newest first; filters: device_id,
    entity, record_id, code; paged with after/limit."""
    args = _args(RejectionArgs())
    with db.engine.connect() as conn:
        items, after = conflicts.list_rejections(
            conn, SYNC_TABLES, after=args["after"], limit=args["limit"],
            user_id=_own_user_filter(), device_id=args["device_id"], entity=args["entity"],
            record_id=args["record_id"], code=args["code"])
    return {"items": items, "next": after}
