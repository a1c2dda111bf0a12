"""Today (the landing dashboard) and Devices (with revocation, for admins as in the API)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from server.auth import clock
from server.auth.devices import revoke_device
from server.extensions import db
from server.models import Device, Role
from server.office.fleet import BACKLOG_CAP, FAR_BEHIND, device_rows, today_counts
from server.office.guard import office_required, office_user

bp = Blueprint("home", __name__)


@bp.get("/")
@office_required()
def today():
    now = clock.now()
    conn = db.session.connection()
    devices = device_rows(conn, now)
    return render_template("office/today.html", counts=today_counts(conn, devices, now),
                           far_behind=FAR_BEHIND)


@bp.get("/devices")
@office_required()
def devices():
    return render_template("office/devices.html",
                           devices=device_rows(db.session.connection(), clock.now()),
                           cap=BACKLOG_CAP, may_revoke=office_user().role == Role.ADMIN)


@bp.post("/devices/<device_id>/revoke")
@office_required(Role.ADMIN)
def revoke(device_id: str):
    device = db.session.get(Device, device_id)
    if device is None:
        abort(404)
    revoke_device(db.session, device, now=clock.now())
    db.session.commit()
    flash(f"Device {device.name} revoked: it can no longer sync.", "ok")
    return redirect(url_for(".devices"))
