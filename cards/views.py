"""Plain input vocabulary for the builders (no ORM, no services).

Builders accept plain strings for kinds and statuses so that a ``StrEnum`` from the core passes as
is; these tuples are what they accept, and :func:`check` turns anything else into ``ValueError``.
Dates are ``datetime`` values; naive ones are taken as UTC (the core stores UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"

ApprovalKind = Literal["award", "application", "redemption", "appeal"]
DecidedStatus = Literal["approved", "rejected", "cancelled", "expired"]
OrderStatus = Literal["pending_approval", "placed", "fulfilled", "cancelled", "rejected"]

APPROVAL_KINDS: tuple[str, ...] = ("award", "application", "redemption", "appeal")
DECIDED_STATUSES: tuple[str, ...] = ("approved", "rejected", "cancelled", "expired")
ORDER_STATUSES: tuple[str, ...] = ("pending_approval", "placed", "fulfilled", "cancelled", "rejected")


def check(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` as a plain ``str`` if it is one of ``allowed``, else ``ValueError``."""
    text = str(value.value) if hasattr(value, "value") else str(value)
    if text not in allowed:
        raise ValueError(f"unknown {what}: {value!r} (expected one of {', '.join(allowed)})")
    return text


@dataclass(frozen=True)
class LocalTime:
    """Formats instants for people in one time zone (``Asia/Shanghai`` by default)."""

    tz: str = DEFAULT_TZ

    def local(self, when: datetime) -> datetime:
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(self.tz))

    def minute(self, when: datetime) -> str:
        """``2026-03-15 14:05`` in local time."""
        return self.local(when).strftime("%Y-%m-%d %H:%M")

    def last_day(self, expires_at: datetime) -> str:
        """The last local day on which something that expires at ``expires_at`` (an exclusive
        instant, as the ledger stores it: local midnight after the last day) is still valid."""
        return self.local(expires_at - timedelta(microseconds=1)).strftime("%Y-%m-%d")
