"""What each user may see, as scope keys (see server.domain.entities for the key kinds)."""

from __future__ import annotations

import sqlalchemy as sa

from server.models import OFFICE_ROLES, Role, WorkOrder, user_territory
from sync.entities import ALL, Actor

_OFFICE_ROLE_NAMES = frozenset(str(r) for r in OFFICE_ROLES)
# Built once: every push and pull asks, and building a statement costs more than running it.
_wo = WorkOrder.__table__
_TERRITORIES = sa.select(user_territory.c.territory_id).where(
    user_territory.c.user_id == sa.bindparam("user_id"))
_SITES = sa.select(_wo.c.account_id).distinct().where(
    _wo.c.technician_id == sa.bindparam("user_id"), _wo.c.deleted_at.is_(None))


def user_keys(conn: sa.Connection, user_id: str, role: str) -> frozenset[str]:
    """The scope keys of a user now: the back office sees all; reps their territories and
    the catalog; technicians their work orders, the sites of those, their van and the catalog.
    """
    if role in _OFFICE_ROLE_NAMES:
        return frozenset({ALL})
    keys = {"catalog"}
    if role == Role.REP:
        territories = conn.execute(_TERRITORIES, {"user_id": user_id}).scalars()
        keys.update(f"territory:{t}" for t in territories)
    elif role == Role.TECHNICIAN:
        sites = conn.execute(_SITES, {"user_id": user_id}).scalars()
        keys.add(f"tech:{user_id}")
        keys.update(f"site:{a}" for a in sites)
    return frozenset(keys)


def actor_for(conn: sa.Connection, user_id: str, role: str, device_id: str | None) -> Actor:
    return Actor(user_id=user_id, role=str(role), keys=user_keys(conn, user_id, role),
                 device_id=device_id)
