"""Expiry reminders (SPEC section 3): one push per employee per threshold, each threshold at most
once per lot, recorded as ReminderMark(lot_id, days) rows.

The thresholds cut the future into bands: with [30, 7, 1], a lot expiring in (7, 30] days is due
its 30-day reminder, one in (1, 7] days its 7-day reminder, one in (0, 1] its 1-day reminder.
A lot gets the reminder of the band it is in when first seen, and the larger thresholds are marked
at the same time, so a lot first seen 5 days before expiry gets the 7-day push only and never a
late 30-day one.

Set-based so 1,000,000 lots take seconds: one grouped query per threshold builds the pushes,
outbox rows go in with bulk inserts, and marks with INSERT ... SELECT.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Account, Employee, Lot, OutboxMessage, ReminderMark, UTCDateTime
from core.policy import Policy
from core.upsert import insert_do_nothing

_OUTBOX: Any = OutboxMessage.__table__  # the table: rows go in as parameter lists

KIND = "expiry_reminder"
_BATCH = 2000


@dataclass(frozen=True)
class ReminderRunResult:
    pushes: int
    lots_marked: int


@dataclass(frozen=True)
class _Band:
    days: int
    lower: datetime  # exclusive
    upper: datetime  # inclusive


def _unmarked(days: int) -> ColumnElement[bool]:
    return ~exists().where(ReminderMark.lot_id == Lot.id, ReminderMark.days == days)


def _due(stmt: Select[Any], band: _Band) -> Select[Any]:
    """Restrict ``stmt`` to live lots of active employees in ``band`` without its mark."""
    return (stmt.join(Account, Account.id == Lot.account_id)
            .join(Employee, Employee.employee_id == Account.employee_id)
            .where(Lot.remaining > 0, Lot.expires_at > band.lower, Lot.expires_at <= band.upper,
                   Employee.active.is_(True), _unmarked(band.days)))


async def _pushes(session: AsyncSession, band: _Band, now: datetime) -> list[dict[str, Any]]:
    stmt = _due(select(Account.employee_id, func.sum(Lot.remaining), func.min(Lot.expires_at),
                       func.aggregate_strings(cast(Lot.id, String), ","))
                .select_from(Lot), band).group_by(Account.employee_id)
    rows = []
    for employee_id, amount, earliest, ids in await session.execute(stmt):
        lot_ids = sorted(int(i) for i in ids.split(","))
        # "days" is the threshold that chose the lot; the text says how many days are really
        # left (a run on 11-05 for a lot expiring 11-30 says 25, not the 30-day threshold)
        payload = {"days": band.days, "days_left": _days_left(earliest, now),
                   "amount": int(amount), "expires_at": earliest.isoformat(), "lot_ids": lot_ids}
        rows.append({"recipient": f"employee:{employee_id}", "kind": KIND, "status": "pending",
                     "dedupe_key": f"expiry:{employee_id}:{band.days}:{lot_ids[0]}",
                     "payload": json.dumps(payload), "attempts": 0, "next_attempt_at": now,
                     "created_at": now})
    return rows


def _days_left(expires_at: datetime, now: datetime) -> int:
    if expires_at.tzinfo is None:  # an aggregate over UTC columns comes back naive on SQLite
        expires_at = expires_at.replace(tzinfo=UTC)
    return max(1, math.ceil((expires_at - now).total_seconds() / 86400))


async def _queue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-insert outbox rows; a dedupe key already queued is skipped, not an error."""
    # cacheable ON CONFLICT (core.upsert): compiled once, not once per batch
    stmt = insert_do_nothing(_OUTBOX, session.get_bind().dialect.name, ("dedupe_key",))
    for i in range(0, len(rows), _BATCH):
        await session.execute(stmt, list(rows[i:i + _BATCH]))


async def _mark(session: AsyncSession, band: _Band, days: int, now: datetime) -> int:
    """Mark every due lot of ``band`` at ``days``; returns how many marks were written."""
    chosen = _due(select(Lot.id, literal(days), literal(now, UTCDateTime())).select_from(Lot), band)
    if days != band.days:
        chosen = chosen.where(_unmarked(days))
    result = await session.execute(
        insert(ReminderMark).from_select(["lot_id", "days", "sent_at"], chosen))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _bands(now: datetime, thresholds: Sequence[int]) -> list[_Band]:
    bands, lower = [], now
    for days in sorted(thresholds):
        upper = now + timedelta(days=days)
        bands.append(_Band(days, lower, upper))
        lower = upper
    return bands


async def expiry_reminders(
    session: AsyncSession, *, now: datetime, policy: Policy,
) -> ReminderRunResult:
    """Queue the due ``expiry_reminder`` pushes and mark their lots (idempotent per lot and day
    count: rerunning queues nothing new). Payload: days, amount (sum of the lots' remaining),
    expires_at (earliest, ISO UTC), lot_ids. Inactive employees are not reminded."""
    thresholds = policy.reminders.expiry_days
    pushes = marked = 0
    for band in _bands(now, thresholds):
        rows = await _pushes(session, band, now)
        if not rows:
            continue
        await _queue(session, rows)
        # larger thresholds first: their selection still needs this band's mark to be absent
        for days in sorted((t for t in thresholds if t > band.days), reverse=True):
            await _mark(session, band, days, now)
        marked += await _mark(session, band, band.days, now)
        pushes += len(rows)
    await session.flush()
    return ReminderRunResult(pushes=pushes, lots_marked=marked)
