"""Rows that exist only to make the edges safe: requests already accepted once (replay guard)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime


class SeenRequest(Base):
    """A signed request accepted once; the primary key refuses the same one on every replica.

    ``key`` is a digest the transport computes (e.g. over a DingTalk HTTP-mode ``timestamp`` and
    ``sign``); once ``expires_at`` has passed the signature itself is refused as stale, so the
    retention job may delete the row. ``request`` is a digest of what the request asked for
    (its event's key, or its body when it carries no event): the identical request again — a
    retry after its answer was lost — is admitted and changes nothing; the pair with anything
    else is refused.
    """

    __tablename__ = "seen_requests"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    request: Mapped[str | None] = mapped_column(String(64))
