"""Per-month report figures kept beside the ledger (B6): the monthly report reads these rows plus
the few ledger transactions posted since they were last brought up to date.

Nothing on the posting path writes here; ``core.reports.rollup.advance`` folds ledger
transactions in, in batches, and moves the watermark in the same database transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime


class ReportFigure(Base):
    """One figure of one local month: a company total (``department`` '') or a department's."""

    __tablename__ = "report_figures"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, local
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportRollup(Base):
    """The fold's progress: every ledger transaction with ``id <= watermark`` is in
    report_figures (months in ``timezone``); the ``pending_*`` columns hold the next safe
    watermark on PostgreSQL until the transactions that could still commit below it are over."""

    __tablename__ = "report_rollup"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[int] = mapped_column(BigInteger, default=0)
    timezone: Mapped[str | None] = mapped_column(String(64))
    pending_upto: Mapped[int | None] = mapped_column(BigInteger)
    pending_xmax: Mapped[int | None] = mapped_column(BigInteger)
    pending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
