"""Field service: installed assets, work orders and what a technician records on them."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.vocabulary import WorkOrderStatus
from server.models.base import Base, Money, Replicated, enum_column, fk
from sync.sqltypes import UTCDateTime


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TimeEntryKind(enum.StrEnum):
    TRAVEL = "travel"
    LABOR = "labor"


class AttachmentKind(enum.StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


class Asset(Replicated, Base):
    __tablename__ = "asset"

    account_id: Mapped[str] = fk("account.id")
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    model: Mapped[str | None] = mapped_column(sa.String(120))
    serial_number: Mapped[str | None] = mapped_column(sa.String(80))
    installed_on: Mapped[date | None] = mapped_column(sa.Date)
    warranty_until: Mapped[date | None] = mapped_column(sa.Date)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class Part(Replicated, Base):
    __tablename__ = "part"
    __table_args__ = (sa.CheckConstraint("unit_cost >= 0", name="unit_cost_non_negative"),)

    part_number: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    unit_cost: Mapped[Decimal] = mapped_column(Money, nullable=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)


class WorkOrder(Replicated, Base):
    __tablename__ = "work_order"

    account_id: Mapped[str] = fk("account.id")
    asset_id: Mapped[str | None] = fk("asset.id", nullable=True)
    technician_id: Mapped[str | None] = fk("user.id", nullable=True)
    number: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[WorkOrderStatus] = mapped_column(
        enum_column(WorkOrderStatus, "work_order_status"), nullable=False
    )
    priority: Mapped[Priority] = mapped_column(
        enum_column(Priority, "work_order_priority"), nullable=False
    )
    scheduled_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    signed_by: Mapped[str | None] = mapped_column(sa.String(120))


class VanStock(Replicated, Base):
    """How many of a part a technician carries; changes merge as increments."""

    __tablename__ = "van_stock"
    __table_args__ = (
        sa.UniqueConstraint("technician_id", "part_id"),
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
    )

    technician_id: Mapped[str] = fk("user.id")
    part_id: Mapped[str] = fk("part.id")
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class PartUsed(Replicated, Base):
    __tablename__ = "part_used"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    work_order_id: Mapped[str] = fk("work_order.id")
    part_id: Mapped[str] = fk("part.id")
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class TimeEntry(Replicated, Base):
    __tablename__ = "time_entry"
    __table_args__ = (
        sa.CheckConstraint("minutes >= 0", name="minutes_non_negative"),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
    )

    work_order_id: Mapped[str] = fk("work_order.id")
    technician_id: Mapped[str] = fk("user.id")
    kind: Mapped[TimeEntryKind] = mapped_column(
        enum_column(TimeEntryKind, "time_entry_kind"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class ChecklistItem(Replicated, Base):
    __tablename__ = "checklist_item"
    __table_args__ = (sa.CheckConstraint("position >= 0", name="position_non_negative"),)

    work_order_id: Mapped[str] = fk("work_order.id")
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    label: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    checked: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attachment(Replicated, Base):
    """Metadata of a photo or signature; the bytes are uploaded separately."""

    __tablename__ = "attachment"
    __table_args__ = (sa.CheckConstraint("size_bytes >= 0", name="size_non_negative"),)

    work_order_id: Mapped[str] = fk("work_order.id")
    kind: Mapped[AttachmentKind] = mapped_column(
        enum_column(AttachmentKind, "attachment_kind"), nullable=False
    )
    filename: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    # Indexed: a blob is served to whoever sees a record pointing to it (server.blobs).
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
