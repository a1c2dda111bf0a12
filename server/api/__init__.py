"""The JSON API under /api/v1: one blueprint per concern, mounted here."""

from __future__ import annotations

from flask import Blueprint

from sync.protocol import PROTOCOL_VERSION

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    """Liveness for load balancers: answers without touching the database."""
    return {"status": "ok", "protocol": PROTOCOL_VERSION}
