"""Keyset pages of a log table, newest first: (created_at descending, id ascending).

The cursor (`after` in a request, `next` in an answer) names the last row of a page. It is
opaque to clients but not secret: it holds that row's creation time and id, and a page
after it starts strictly behind that row, so rows written meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.errors import InvalidCursor

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 500


@dataclass(frozen=True)
class Page:
    """One page of rows, and the cursor of the next page (None on the last one)."""

    rows: list[sa.Row]
    next: str | None


def page_limit(requested: int | None) -> int:
    """`requested` clamped into 1..MAX_PAGE_LIMIT; DEFAULT_PAGE_LIMIT when not given."""
    if requested is None:
        return DEFAULT_PAGE_LIMIT
    return min(max(requested, 1), MAX_PAGE_LIMIT)


def newest_first(conn: sa.Connection, table: sa.Table, where: list[sa.ColumnElement], *,
                 after: str | None, limit: int) -> Page:
    """The rows of `table` matching `where`, newest first, after the cursor `after`.

    Raises InvalidCursor when `after` is not a cursor this module made.
    """
    query = sa.select(table).where(*where).order_by(table.c.created_at.desc(), table.c.id)
    if after is not None:
        created_at, row_id = decode_cursor(after)
        query = query.where(sa.or_(
            table.c.created_at < created_at,
            sa.and_(table.c.created_at == created_at, table.c.id > row_id)))
    rows = list(conn.execute(query.limit(limit)))
    more = len(rows) == limit
    return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)


def encode_cursor(created_at: datetime, row_id: Any) -> str:
    """The cursor of the row created at `created_at` with id `row_id`."""
    text = f"{created_at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The creation time and id a cursor names. Raises InvalidCursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, row_id = text.partition("|")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive")
        return created_at, str(uuid.UUID(row_id))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidCursor("the cursor was not issued by this server",
                            fields={"after": ["not a cursor from a previous page"]}) from exc
