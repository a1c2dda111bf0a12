"""How the office names, filters and sorts each replicated entity: read from the tables the
domain registers with the engine, plus the few choices a table cannot say (which column
names a record, which date a record is about)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.domain import REGISTRY
from server.models import Account

# The column that names a record, or the reference whose name stands for it.
OWN_NAME = {"territory": "name", "product": "name", "price_list": "name", "part": "name",
            "account": "name", "asset": "name", "work_order": "title",
            "contact": "last_name", "attachment": "filename", "checklist_item": "label"}
NAME_VIA = {"order": "account_id", "visit": "account_id", "order_line": "product_id",
            "price": "product_id", "van_stock": "part_id", "part_used": "part_id",
            "time_entry": "work_order_id"}
# The date a record is about, for the date-range filter (else when it last changed).
DATE_OF = {"order": "ordered_at", "visit": "planned_at", "work_order": "scheduled_start",
           "time_entry": "started_at", "attachment": "captured_at"}
OWNER_OF = ("rep_id", "technician_id")
SORTS = ("name", "updated_at", "created_at")


@dataclass(frozen=True)
class EntityView:
    """One entity as the office browses it."""

    name: str
    table: sa.Table

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")

    @property
    def owner(self) -> sa.Column | None:
        return next((self.table.c[c] for c in OWNER_OF if c in self.table.c), None)

    @property
    def status(self) -> sa.Column | None:
        return self.table.c.get("status")

    @property
    def date(self) -> sa.Column:
        return self.table.c[DATE_OF.get(self.name, "updated_at")]

    def territory_filter(self, territory_id: str) -> sa.ColumnElement | None:
        """Records in a territory: its accounts, and what hangs off those accounts."""
        c = self.table.c
        if self.name == "account":
            return c.territory_id == territory_id
        if self.name == "territory":
            return c.id == territory_id
        if "account_id" in c:
            return c.account_id.in_(sa.select(Account.__table__.c.id).where(
                Account.__table__.c.territory_id == territory_id))
        return None

    def name_column(self) -> tuple[sa.ColumnElement, sa.FromClause]:
        """The naming column and the FROM clause it needs (a join for named-by-reference)."""
        if self.name in OWN_NAME:
            return self.table.c[OWN_NAME[self.name]], self.table
        via = self.table.c[NAME_VIA[self.name]]
        target = referenced(via)
        alias = target.alias("named_by")
        return name_of_table(alias), self.table.join(alias, via == alias.c.id)

    def references(self) -> dict[str, sa.Table]:
        """Each column that refers to another record (or a user), with its table."""
        return {c.name: t for c in self.table.c if c.name != "id"
                and (t := referenced(c)) is not None}

    def status_choices(self) -> list[str]:
        return list(self.status.type.enums) if self.status is not None else []


def views() -> dict[str, EntityView]:
    return {spec.name: EntityView(spec.name, spec.table) for spec in REGISTRY}


def referenced(column: sa.Column) -> sa.Table | None:
    fk = next(iter(column.foreign_keys), None)
    return fk.column.table if fk is not None else None


def name_of_table(table: sa.FromClause) -> sa.ColumnElement:
    """The naming column of a table (or alias) that names itself, else its id."""
    base = getattr(table, "element", table)
    if base.name in OWN_NAME:
        return table.c[OWN_NAME[base.name]]
    return table.c.name if "name" in table.c else table.c.id
