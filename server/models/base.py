"""Declarative base, naming convention and the columns every replicated record carries.

Plain SQLAlchemy: no Flask, so the engine, the migrations and the tests use the same tables
without building an app.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sync.ids import new_id
from sync.sqltypes import UTCDateTime, utcnow
from sync.store import define_sync_tables

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


SYNC_TABLES = define_sync_tables(Base.metadata)




UUID = sa.Uuid(as_uuid=False)


class Money(sa.TypeDecorator):
    """An exact amount with two decimals: NUMERIC(12,2) on PostgreSQL, integer cents on SQLite.

    SQLite's NUMERIC affinity stores binary floats, so it gets cents instead.
    """

    impl = sa.Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(12, 2))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(value) / 100).quantize(Decimal("0.01"))
        return Decimal(value).quantize(Decimal("0.01"))


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, values as stored strings."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


def fk(target: str, *, nullable: bool = False, index: bool = True) -> Mapped:
    return mapped_column(UUID, sa.ForeignKey(target), nullable=nullable, index=index)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Replicated(Timestamped):
    """Columns of every record devices replicate.

    The id may be generated offline by a client; `version` is assigned by the server and
    grows by one per committed change; `deleted_at` marks a tombstone.
    """

    id: Mapped[str] = mapped_column(UUID, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
