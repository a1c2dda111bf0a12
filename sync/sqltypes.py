"""Column types that mean the same thing on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as naive
    UTC and made aware again on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Integer primary keys must be INTEGER on SQLite to get rowid autoincrement.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
