"""Field sales: accounts and contacts, the catalog and price lists, visits and orders."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.vocabulary import OrderStatus, VisitStatus
from server.models.base import Base, Money, Replicated, enum_column, fk
from sync.sqltypes import UTCDateTime


class AccountStatus(enum.StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Account(Replicated, Base):
    __tablename__ = "account"

    territory_id: Mapped[str] = fk("territory.id")
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    account_number: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus, "account_status"), nullable=False
    )
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    street: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    notes: Mapped[str | None] = mapped_column(sa.Text)


class Contact(Replicated, Base):
    __tablename__ = "contact"

    account_id: Mapped[str] = fk("account.id")
    first_name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    last_name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    title: Mapped[str | None] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    is_primary: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)


class Product(Replicated, Base):
    __tablename__ = "product"

    sku: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="each")
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)


class PriceList(Replicated, Base):
    __tablename__ = "price_list"
    __table_args__ = (
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
    )

    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    valid_from: Mapped[date] = mapped_column(sa.Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)


class Price(Replicated, Base):
    __tablename__ = "price"
    __table_args__ = (
        sa.UniqueConstraint("price_list_id", "product_id"),
        sa.CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    )

    price_list_id: Mapped[str] = fk("price_list.id")
    product_id: Mapped[str] = fk("product.id")
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)


class Visit(Replicated, Base):
    __tablename__ = "visit"

    account_id: Mapped[str] = fk("account.id")
    rep_id: Mapped[str] = fk("user.id")
    status: Mapped[VisitStatus] = mapped_column(
        enum_column(VisitStatus, "visit_status"), nullable=False
    )
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    outcome: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)


class Order(Replicated, Base):
    __tablename__ = "order"

    account_id: Mapped[str] = fk("account.id")
    rep_id: Mapped[str] = fk("user.id")
    visit_id: Mapped[str | None] = fk("visit.id", nullable=True)
    price_list_id: Mapped[str] = fk("price_list.id")
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "order_status"), nullable=False
    )
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class OrderLine(Replicated, Base):
    __tablename__ = "order_line"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        sa.CheckConstraint(
            "discount_pct >= 0 AND discount_pct <= 100", name="discount_pct_range"
        ),
    )

    order_id: Mapped[str] = fk("order.id")
    product_id: Mapped[str] = fk("product.id")
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    discount_pct: Mapped[Decimal] = mapped_column(
        sa.Numeric(5, 2), nullable=False, default=Decimal("0")
    )
    line_total: Mapped[Decimal] = mapped_column(Money, nullable=False)
