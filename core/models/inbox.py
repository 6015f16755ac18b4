"""The transactional inbox: a verified incoming event, durable before the platform is answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime


class InboxEvent(Base):
    """One incoming event, keyed by its platform id (``evt:<platform>:<id>``).

    ``state``: ``pending`` (to process; ``lease_until`` says until when one process owns it),
    ``done`` (processed; a redelivery of the same key is acknowledged and ignored) or ``failed``
    (given up after ``attempts`` tries; the user got an apology).
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_due", "state", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
