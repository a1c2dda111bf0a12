"""The record of scheduled job runs: what ran, for which period, where, and how it ended.

Every scheduler (one per host, or one per gunicorn worker) writes here before it runs a
job, under the job's lock, so a period whose run is recorded is never run again elsewhere.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base
from sync.sqltypes import UTCDateTime


class JobRun(Base):
    """One run of a scheduled job; `period_start` is None for a run asked for by hand."""

    __tablename__ = "job_run"
    # Two schedulers that somehow passed the lock still cannot both record one period.
    __table_args__ = (sa.UniqueConstraint("job", "period_start"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # running/succeeded/failed
    detail: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    host: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    pid: Mapped[int] = mapped_column(sa.Integer, nullable=False)
