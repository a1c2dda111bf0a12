"""What each user may see, as scope keys (see server.domain.entities for the key kinds)."""

from __future__ import annotations

import sqlalchemy as sa

from server.models import OFFICE_ROLES, Role, WorkOrder, user_territory
from sync.entities import ALL, Actor


def user_keys(conn: sa.Connection, user_id: str, role: str) -> frozenset[str]:
    """The scope keys of a user now: the back office sees all; reps their territories and
    the catalog; technicians their work orders, the sites of those, their van and the catalog.
    """
    if role in {str(r) for r in OFFICE_ROLES}:
        return frozenset({ALL})
    keys = {"catalog"}
    if role == Role.REP:
        ut = user_territory
        territories = conn.execute(
            sa.select(ut.c.territory_id).where(ut.c.user_id == user_id)
        ).scalars()
        keys.update(f"territory:{t}" for t in territories)
    elif role == Role.TECHNICIAN:
        wo = WorkOrder.__table__
        sites = conn.execute(
            sa.select(wo.c.account_id).distinct()
            .where(wo.c.technician_id == user_id, wo.c.deleted_at.is_(None))
        ).scalars()
        keys.add(f"tech:{user_id}")
        keys.update(f"site:{a}" for a in sites)
    return frozenset(keys)


def actor_for(conn: sa.Connection, user_id: str, role: str, device_id: str | None) -> Actor:
    return Actor(user_id=user_id, role=str(role), keys=user_keys(conn, user_id, role),
                 device_id=device_id)
