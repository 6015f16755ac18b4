"""Transactional outbox: a push is a row written in the same transaction as the change it reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    """``recipient`` is the address of a :class:`core.outbox.recipient.Recipient`; ``lane`` 0
    (answers) is sent before lane 1 (pushes, reminders, broadcasts).

    ``kind`` names the notification (award_received, approval_request, expiry_reminder, …) and
    ``payload`` holds its JSON data; rendering happens at send time, not in the core.
    """

    __tablename__ = "outbox"
    # every reply is a row here: each index is one more B-tree written per insert, claim and
    # send, so none is kept that a wider one covers (migration 0012)
    __table_args__ = (
        Index("ix_outbox_claim", "status", "lane", "next_attempt_at", "id"),
        Index("ix_outbox_recipient_status", "recipient", "status", "id"),
        Index("ix_outbox_status_sent_at", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(40))
    lane: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CardRef(Base):
    """A card with buttons that was delivered, so it can be updated in place later (e.g. every
    approver's approval card once someone decided). ``ref`` names what it is about
    (``approval:A12``); ``handle`` is the platform's update credential (WeCom response_code,
    DingTalk outTrackId)."""

    __tablename__ = "card_refs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(100), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(128))
    handle: Mapped[str | None] = mapped_column(String(200))
    updated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
