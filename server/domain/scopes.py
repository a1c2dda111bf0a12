"""What each user may see, as scope keys (see server.domain.entities for the key kinds).

A user's keys follow from their role and two grants: the territories they are assigned and
the sites (accounts) of their open work orders. `scope_grants` selects both as columns
correlated with a user id, so the per-request authentication query reads them in the same
round trip as the user's role; `keys_of` turns them into keys.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.models import OFFICE_ROLES, Role, WorkOrder, user_territory
from sync.entities import ALL, Actor

_OFFICE_ROLE_NAMES = frozenset(str(r) for r in OFFICE_ROLES)
_wo = WorkOrder.__table__


def scope_grants(user_id: sa.ColumnElement) -> list[sa.Label]:
    """The user's territories and the sites of their open work orders, each as one
    space-separated text (NULL when none), for the user `user_id` (a column or a bound
    parameter). Ids come as the database stores them (SQLite: hex without dashes)."""
    def ids(column: sa.Column, *where: sa.ColumnElement) -> sa.ScalarSelect:
        return sa.select(sa.func.aggregate_strings(sa.cast(column, sa.String), " ")).where(
            *where).scalar_subquery()
    return [
        ids(user_territory.c.territory_id, user_territory.c.user_id == user_id)
        .label("territories"),
        ids(_wo.c.account_id, _wo.c.technician_id == user_id, _wo.c.deleted_at.is_(None))
        .label("sites"),
    ]


def keys_of(user_id: str, role: str, territories: str | None, sites: str | None
            ) -> frozenset[str]:
    """The scope keys of a user, from their role and grants (as `scope_grants` reads them):
    the back office sees all; reps their territories and the catalog; technicians their
    work orders, the sites of those, their van and the catalog."""
    if role in _OFFICE_ROLE_NAMES:
        return frozenset({ALL})
    keys = {"catalog"}
    if role == Role.REP:
        keys.update(f"territory:{_id(t)}" for t in (territories or "").split())
    elif role == Role.TECHNICIAN:
        keys.add(f"tech:{user_id}")
        keys.update(f"site:{_id(a)}" for a in (sites or "").split())
    return frozenset(keys)


def user_keys(conn: sa.Connection, user_id: str, role: str) -> frozenset[str]:
    """The scope keys of a user now (see `keys_of`)."""
    grants = conn.execute(_GRANTS, {"user_id": user_id}).one()
    return keys_of(user_id, str(role), grants.territories, grants.sites)


def actor_for(conn: sa.Connection, user_id: str, role: str, device_id: str | None) -> Actor:
    return Actor(user_id=user_id, role=str(role), keys=user_keys(conn, user_id, role),
                 device_id=device_id)


def _id(text: str) -> str:
    """An id in its canonical form (with dashes), however the database cast it to text."""
    return str(uuid.UUID(text))


# Built once: building a statement costs more than running it.
_GRANTS = sa.select(*scope_grants(sa.bindparam("user_id", type_=user_territory.c.user_id.type)))
