"""Back-office access to replicated records: browse, create, edit, delete.

Writes go through the sync engine under the same validation, rules and scopes as a push, so
they reach devices through the change log like any other change.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, request
from marshmallow import EXCLUDE, Schema, fields, validate

from server.api.attachments import attachment_links
from server.api.sync import sync_engine
from server.auth import current_principal, login_required
from server.domain import REGISTRY
from server.errors import invalid_fields, not_found
from server.extensions import db
from server.http import json_body
from server.models import OFFICE_ROLES, SYNC_TABLES, Device, User
from sync.database import retrying
from sync.ids import new_id
from sync.protocol import Op

bp = Blueprint("records", __name__, url_prefix="/api/v1/records")

def _spec(entity: str):
    if entity not in REGISTRY:
        raise not_found(f"no replicated entity named {entity!r}")
    return REGISTRY[entity]


def _write(entity: str, record_id: str, op: Op, fields: dict):
    """The change through the engine; a MutationRejected answers its code (server.errors)."""
    _spec(entity)
    principal = current_principal()
    db.session.rollback()
    result = retrying(db.engine, lambda conn: sync_engine().write(
        conn, entity, record_id, op, fields, actor=principal.actor(None), source="office"))
    return result.record.to_wire()


@bp.get("/<entity>")
@login_required(*OFFICE_ROLES)
def list_records(entity: str):
    """Live records of `entity`, by id, paged with ?after=<id>&limit=<n> (max 500)."""
    _spec(entity)
    r = SYNC_TABLES.record
    limit = min(max(request.args.get("limit", 100, type=int), 1), 500)
    query = (sa.select(r.c.record_id, r.c.version, r.c.hlc, r.c.payload)
             .where(r.c.entity == entity, r.c.deleted.is_(False))
             .order_by(r.c.record_id).limit(limit))
    if after := request.args.get("after"):
        query = query.where(r.c.record_id > after)
    rows = db.session.execute(query).all()
    items = [{"entity": entity, "id": row.record_id, "version": row.version, "hlc": row.hlc,
              "deleted": False, "data": json.loads(row.payload),
              **attachment_links(entity, row.record_id)} for row in rows]
    return {"items": items, "next": rows[-1].record_id if len(rows) == limit else None}


@bp.get("/<entity>/<uuid:record_id>")
@login_required(*OFFICE_ROLES)
def get_record(entity: str, record_id):
    """One record, tombstone or not; its id in lowercase or uppercase (RFC 9562)."""
    _spec(entity)
    record_id = str(record_id)
    r = SYNC_TABLES.record
    row = db.session.execute(sa.select(r).where(
        r.c.entity == entity, r.c.record_id == record_id)).first()
    if row is None:
        raise not_found(f"{entity} {record_id} does not exist")
    return {"entity": entity, "id": record_id, "version": row.version, "hlc": row.hlc,
            "deleted": row.deleted, "data": json.loads(row.payload),
            **attachment_links(entity, record_id)}


class HistoryArgs(Schema):
    """?after=<version>&limit=<n>: a version is a 64-bit integer like the column holding it."""

    after = fields.Integer(load_default=None, validate=validate.Range(0, 2**63 - 1))
    limit = fields.Integer(load_default=100)


_HISTORY_ARGS = HistoryArgs(unknown=EXCLUDE)


@bp.get("/<entity>/<record_id>/history")
@login_required(*OFFICE_ROLES)
def record_history(entity: str, record_id: str):
    """The record's audit trail by version, paged with ?after=<version>&limit=<n> (max 500).

    404 when the record is unknown and has no history."""
    _spec(entity)
    a = SYNC_TABLES.audit
    args = _HISTORY_ARGS.load(request.args.to_dict())
    limit = min(max(args["limit"], 1), 500)
    query = (sa.select(a).where(a.c.entity == entity, a.c.record_id == record_id)
             .order_by(a.c.version).limit(limit))
    after = args["after"]
    if after is not None:
        query = query.where(a.c.version > after)
    rows = db.session.execute(query).all()
    if not rows and after is None and not _exists(entity, record_id):
        raise not_found(f"{entity} {record_id} does not exist")
    users, devices = _authors(rows)
    items = [_history_item(row, users, devices) for row in rows]
    return {"items": items, "next": rows[-1].version if len(rows) == limit else None}


def _exists(entity: str, record_id: str) -> bool:
    r = SYNC_TABLES.record
    return db.session.execute(sa.select(r.c.version).where(
        r.c.entity == entity, r.c.record_id == record_id)).first() is not None


def _authors(rows) -> tuple[dict, dict]:
    """The users and devices named by audit rows, by id, each read once."""
    user_ids = {row.user_id for row in rows if row.user_id}
    device_ids = {row.device_id for row in rows if row.device_id}
    users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids))) if user_ids else []
    devices = (db.session.scalars(sa.select(Device).where(Device.id.in_(device_ids)))
               if device_ids else [])
    return ({u.id: {"id": u.id, "email": u.email, "name": u.name} for u in users},
            {d.id: {"id": d.id, "name": d.name} for d in devices})


def _history_item(row, users: dict, devices: dict) -> dict:
    before, after = row.before or {}, row.after or {}
    changes = [{"field": name, "before": before.get(name), "after": after.get(name)}
               for name in (after or before)]
    return {"version": row.version, "op": row.op, "source": row.source,
            "at": row.created_at.isoformat().replace("+00:00", "Z"),
            "user": users.get(row.user_id, {"id": row.user_id}) if row.user_id else None,
            "device": (devices.get(row.device_id, {"id": row.device_id}) if row.device_id
                       else None),
            "mutation_id": row.mutation_id, "changes": changes}


@bp.post("/<entity>")
@login_required(*OFFICE_ROLES)
def create_record(entity: str):
    body = json_body()
    if not isinstance(body, dict):
        raise invalid_fields("send the record's fields as an object",
                             {"_schema": ["must be an object"]})
    fields = dict(body)
    record_id = fields.pop("id", None) or new_id()
    return _write(entity, str(record_id), Op.CREATE, fields), 201


@bp.patch("/<entity>/<uuid:record_id>")
@login_required(*OFFICE_ROLES)
def update_record(entity: str, record_id):
    body = json_body()
    if not isinstance(body, dict) or not body:
        raise invalid_fields("send the fields to change as an object",
                             {"_schema": ["must be a non-empty object"]})
    return _write(entity, str(record_id), Op.UPDATE, body)


@bp.delete("/<entity>/<uuid:record_id>")
@login_required(*OFFICE_ROLES)
def delete_record(entity: str, record_id):
    return _write(entity, str(record_id), Op.DELETE, {})
