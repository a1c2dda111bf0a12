"""Territories, users and their roles, devices, refresh tokens and login attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.vocabulary import OFFICE_ROLES, Role  # noqa: F401 (the words' one home)
from server.models.base import UUID, Base, Replicated, Timestamped, enum_column, fk, new_id
from sync.sqltypes import UTCDateTime, utcnow

user_territory = sa.Table(
    "user_territory",
    Base.metadata,
    sa.Column("user_id", UUID, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "territory_id", UUID, sa.ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Territory(Replicated, Base):
    __tablename__ = "territory"

    code: Mapped[str] = mapped_column(sa.String(20), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    region: Mapped[str | None] = mapped_column(sa.String(120))


class User(Timestamped, Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(UUID, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    territories: Mapped[list[Territory]] = relationship(secondary=user_territory)
    devices: Mapped[list[Device]] = relationship(back_populates="user")


class Device(Base):
    """A named device (laptop, tablet) a user signed in on; the unit of push and revocation.

    `installation_id` is the client installation (one replica) that signed in on it, as the
    client generated it; None for a client that sends none. `stream_id` is its receipt
    stream (docs/protocol.md §6.3): its own id, or that of the installation's first device
    for this user, so a device that replaces a revoked one continues its de-duplication.
    """

    __tablename__ = "device"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(UUID, primary_key=True, default=new_id)
    user_id: Mapped[str] = fk("user.id")
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    installation_id: Mapped[str | None] = mapped_column(UUID)
    stream_id: Mapped[str] = mapped_column(UUID, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_ip: Mapped[str | None] = mapped_column(sa.String(45))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="devices")


class RefreshToken(Base):
    """One issued refresh token. Tokens of one login form a family; reuse revokes the family."""

    __tablename__ = "refresh_token"

    id: Mapped[str] = mapped_column(UUID, primary_key=True, default=new_id)
    device_id: Mapped[str] = fk("device.id")
    family_id: Mapped[str] = mapped_column(UUID, nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Every login attempt, kept briefly: the rate limiter counts them across workers."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_email_at", "email", "at"),
        sa.Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    address: Mapped[str] = mapped_column(sa.String(45), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    success: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
