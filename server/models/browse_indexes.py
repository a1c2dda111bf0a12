"""Indexes the back office's lists page by (server.office.browse): each sort order it offers
on the big tables, with the id as the tie-break, so a page after a (value, id) key is an
index range scan however deep it is, also at 100,000 accounts."""

from __future__ import annotations

import sqlalchemy as sa

from server.models.sales import Account, Contact, Order, Visit
from server.models.service import Asset, WorkOrder

BROWSE_INDEXES = [
    sa.Index(f"ix_{model.__tablename__}_{column}_id", model.__table__.c[column],
             model.__table__.c.id)
    for model, columns in (
        (Account, ("name", "updated_at")),
        (Contact, ("last_name", "updated_at")),
        (Asset, ("name", "updated_at")),
        (WorkOrder, ("title", "updated_at")),
        (Order, ("updated_at",)),
        (Visit, ("updated_at",)),
    )
    for column in columns
]
