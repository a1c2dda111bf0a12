"""Helpers every test may use: users, territories, signing in, a clock tests can move."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.auth.clock import install_clock
from server.domain import import_records
from server.extensions import db
from server.models import Role, Territory
from server.services import users
from sync.sqltypes import utcnow

DEFAULT_PASSWORD = "correct-horse-battery"


@dataclass(frozen=True)
class CreatedUser:
    """What a test needs of a user it created (the ORM object would be detached)."""

    id: str
    email: str
    name: str
    role: Role
    password: str
    territory_codes: tuple[str, ...]


def ensure_territories(session: Session, codes: Iterable[str]) -> list[Territory]:
    """The territories with these codes, creating the missing ones through the sync engine
    (territories are replicated records: they must enter the change log)."""
    wanted = sorted(set(codes))
    known = set(session.scalars(sa.select(Territory.code).where(Territory.code.in_(wanted))))
    missing = [{"id": str(uuid.uuid4()), "code": c, "name": f"Territory {c}"}
               for c in wanted if c not in known]
    if missing:
        import_records(session.connection(), "territory", missing)
    return list(session.scalars(sa.select(Territory).where(Territory.code.in_(wanted))))


def create_user(app, *, role: Role | str, email: str | None = None,
                password: str = DEFAULT_PASSWORD, name: str | None = None,
                territory_codes: Iterable[str] = ()) -> CreatedUser:
    """Create and commit an active user (and any missing territories of `territory_codes`)."""
    role = Role(role)
    email = email or f"{role.value}.{uuid.uuid4().hex[:8]}@example.test"
    codes = tuple(territory_codes)
    with app.app_context():
        ensure_territories(db.session, codes)
        user = users.create_user(
            db.session, email=email, name=name or f"Test {role.value}", role=role,
            password=password, territory_codes=codes,
            hash_method=app.config["PASSWORD_HASH_METHOD"],
        )
        db.session.commit()
        return CreatedUser(user.id, user.email, user.name, user.role, password, codes)


def login(client, email: str, password: str = DEFAULT_PASSWORD,
          device: str = "test-laptop") -> dict:
    """Sign in through the API and return the login answer; fails the test unless 200."""
    response = client.post("/api/v1/auth/login",
                           json={"email": email, "password": password, "device_name": device})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    """The headers that authenticate a request with an access token."""
    return {"Authorization": f"Bearer {token}"}


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime | None = None):
        self.at = at or utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keyword arguments (days=7, seconds=30)."""
        self.at += timedelta(**delta)
        return self.at


def freeze_clock(app, at: datetime | None = None) -> FrozenClock:
    """Install and return a FrozenClock as the app's auth clock."""
    clock = FrozenClock(at)
    install_clock(app, clock)
    return clock
