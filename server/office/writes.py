"""Office writes: through the sync engine's server-side write and the conflict override,
as the JSON API does, with the signed-in office user as the actor (no device)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.api.sync import sync_engine
from server.extensions import db
from server.models import User
from sync import conflicts
from sync.database import retrying, write_transaction
from sync.entities import ALL, Actor
from sync.protocol import Op


def office_actor(user: User) -> Actor:
    """An office user as the engine's actor: sees everything, writes from no device."""
    return Actor(user_id=user.id, role=str(user.role), keys=frozenset({ALL}), device_id=None)


def write(user: User, entity: str, record_id: str, op: Op, fields: Mapping[str, Any]):
    """One office change through the engine (rules, workflows, scopes, change log, audit).

    Raises sync.errors.MutationRejected when it breaks a rule.
    """
    db.session.rollback()
    return retrying(db.engine, lambda conn: sync_engine().write(
        conn, entity, record_id, op, dict(fields), actor=office_actor(user), source="office"))


def override(user: User, conflict_id: str, choose: str, value: Any = None) -> dict:
    """Close a conflict as sync.conflicts.override does. Raises its errors."""
    db.session.rollback()
    with write_transaction(db.engine) as conn:
        return conflicts.override(conn, sync_engine(), conflict_id, choose=choose,
                                  value=value, actor=office_actor(user))
