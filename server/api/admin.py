"""The /api/v1/admin endpoints: users and devices.

Who may do what:
- the office roles (dispatcher, back_office, admin) may list users and devices: dispatchers
  need to see who is in the field and whether a laptop still syncs;
- only admins change anything: create and edit users, revoke devices.
Field roles (rep, technician) get 403 on all of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import selectinload

from server.auth import clock, current_principal, login_required
from server.auth.devices import revoke_device
from server.errors import invalid_fields, not_found
from server.extensions import db
from server.http import json_body
from server.models import OFFICE_ROLES, Device, Role, User
from server.services import users

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")

READERS = tuple(sorted(OFFICE_ROLES))


class AdminUserSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    active = fields.Boolean()
    territory_codes = fields.Function(lambda u: sorted(t.code for t in u.territories))
    territory_ids = fields.Function(lambda u: sorted(t.id for t in u.territories))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DeviceOwnerSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()


class AdminDeviceSchema(Schema):
    id = fields.String()
    name = fields.String()
    user = fields.Nested(DeviceOwnerSchema)
    installation_id = fields.String()  # devices of one installation share it (protocol §3)
    created_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    last_seen_ip = fields.String()
    revoked = fields.Function(lambda d: d.revoked_at is not None)
    revoked_at = fields.DateTime()


class DeviceQuerySchema(Schema):
    user_id = fields.UUID()
    revoked = fields.Boolean()


class UserCreateSchema(Schema):
    email = fields.Email(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    password = fields.String(required=True)
    territory_codes = fields.List(fields.String(), load_default=list)


class UserPatchSchema(Schema):
    name = fields.String()
    role = fields.String()
    territory_codes = fields.List(fields.String())
    active = fields.Boolean()
    password = fields.String(validate=validate.Length(min=1))

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Send at least one field to change.")


@bp.get("/devices")
@login_required(*READERS)
def list_devices():
    """Every registered device with its owner, newest sign-in data and revocation.

    Query: `user_id` (one user's devices), `revoked` (true/false). Office roles.
    """
    query = DeviceQuerySchema().load(request.args)
    stmt = sa.select(Device).join(User).options(selectinload(Device.user))
    if "user_id" in query:
        stmt = stmt.where(Device.user_id == str(query["user_id"]))
    if "revoked" in query:
        revoked = Device.revoked_at.is_not(None)
        stmt = stmt.where(revoked if query["revoked"] else sa.not_(revoked))
    devices = db.session.scalars(stmt.order_by(User.email, Device.name)).all()
    return {"devices": AdminDeviceSchema(many=True).dump(devices)}


@bp.post("/devices/<uuid:device_id>/revoke")
@login_required(Role.ADMIN)
def revoke(device_id):
    """Revoke a device and its refresh tokens; its access tokens fail from the next request.

    Idempotent. Admins only; 404 for an unknown device.
    """
    device = db.session.get(Device, str(device_id))
    if device is None:
        raise not_found("No such device")
    revoke_device(db.session, device, now=clock.now())
    db.session.commit()
    return AdminDeviceSchema().dump(device)


@bp.get("/users")
@login_required(*READERS)
def list_users():
    """Every user with role, territories and whether they are active. Office roles."""
    stmt = sa.select(User).options(selectinload(User.territories)).order_by(User.email)
    return {"users": AdminUserSchema(many=True).dump(db.session.scalars(stmt).all())}


@bp.get("/users/<uuid:user_id>")
@login_required(*READERS)
def get_user(user_id):
    """One user. Office roles; 404 for an unknown id."""
    user = db.session.get(User, str(user_id))
    if user is None:
        raise not_found("No such user")
    return AdminUserSchema().dump(user)


@bp.post("/users")
@login_required(Role.ADMIN)
def create_user():
    """Create a user. Admins only; 409 email_taken, 422 for invalid fields."""
    body = json_body(UserCreateSchema())
    user = users.create_user(db.session, **body, hash_method=_hash_method())
    db.session.commit()
    return AdminUserSchema().dump(user), 201


@bp.patch("/users/<uuid:user_id>")
@login_required(Role.ADMIN)
def update_user(user_id):
    """Change a user's name, role, territories (by code), active flag or password.

    Disabling a user or setting their password signs them out of every device. Admins cannot
    disable or demote themselves (someone must stay able to administer). Admins only; 404 for
    an unknown id, 422 for invalid fields.
    """
    body = json_body(UserPatchSchema())
    user = db.session.get(User, str(user_id))
    if user is None:
        raise not_found("No such user")
    _refuse_self_lockout(user, body)
    _apply_changes(user, body)
    db.session.commit()
    return AdminUserSchema().dump(user)


def _apply_changes(user: User, body: dict) -> None:
    now = clock.now()
    if "name" in body:
        users.set_name(db.session, user, body["name"])
    if "role" in body:
        users.set_role(db.session, user, body["role"])
    if "territory_codes" in body:
        users.set_territories(db.session, user, body["territory_codes"])
    if "password" in body:
        users.set_password(db.session, user, body["password"], hash_method=_hash_method(),
                           now=now)
    if body.get("active") is True:
        users.enable_user(db.session, user)
    elif body.get("active") is False:
        users.disable_user(db.session, user, now=now)


def _refuse_self_lockout(user: User, body: dict) -> None:
    if user.id != current_principal().user_id:
        return
    problems = {}
    if body.get("active") is False:
        problems["active"] = ["You cannot disable your own account."]
    if "role" in body and body["role"] != Role.ADMIN:
        problems["role"] = ["You cannot take the admin role from your own account."]
    if problems:
        raise invalid_fields("You cannot lock yourself out", problems)


def _hash_method() -> str:
    return current_app.config["PASSWORD_HASH_METHOD"]
