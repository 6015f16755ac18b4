"""Claiming, settling and counting outbox rows: every statement the sender needs, so the bot
runs no SQL of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from core.models.directory import Employee
from core.models.outbox import OutboxMessage
from core.outbox.card_refs import DeliveredCard, remember
from core.outbox.recipient import Lane, Recipient

STATES = ("pending", "sent", "failed")
RATE_LIMITED = "rate limited; waiting for a free slot"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed row: what a sender needs."""

    id: int
    recipient: Recipient
    kind: str
    payload: str
    attempts: int
    lane: int = int(Lane.PUSH)


@dataclass(slots=True)
class Outcome:
    """What became of one batch, written in one short transaction."""

    sent: list[int] = field(default_factory=list)
    deferred: dict[int, datetime] = field(default_factory=dict)  # not an attempt: a rate limit
    retry: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)  # unsent, behind a row that must wait
    cards: list[DeliveredCard] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.sent) + len(self.deferred) + len(self.retry) + len(self.failed)
                + len(self.released))


@dataclass(frozen=True, slots=True)
class Contact:
    employee_id: str
    locale: str
    wecom_userid: str | None
    dingtalk_userid: str | None


# built once: an alias copies every column of the table, which is not free per claim
_EARLIER = aliased(OutboxMessage)


def _due(m: Any, now: datetime) -> ColumnElement[bool]:
    # A fresh row is due at once even if it was queued under a pretended clock
    # (`jifen jobs run --now` in the future); retries and deferrals wait for their time.
    fresh = and_(m.attempts == 0, m.last_error.is_(None))
    return or_(m.next_attempt_at <= now, fresh)


async def claim(session: AsyncSession, *, lane: Lane, now: datetime, limit: int, lease: timedelta,
                skip_locked: bool) -> list[Delivery]:
    """Lease up to ``limit`` due rows of ``lane``, oldest first.

    A row whose recipient has an earlier pending row that is not due (rate limited, backing off,
    or leased by another worker) is left alone, so one recipient's messages go out in order.
    """
    earlier = _EARLIER
    waiting = exists().where(earlier.recipient == OutboxMessage.recipient,
                             earlier.status == "pending", earlier.id < OutboxMessage.id,
                             not_(_due(earlier, now)))
    stmt = (select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.kind,
                   OutboxMessage.payload, OutboxMessage.attempts)
            .where(OutboxMessage.status == "pending", OutboxMessage.lane == int(lane),
                   _due(OutboxMessage, now), ~waiting)
            .order_by(OutboxMessage.id).limit(limit))
    if skip_locked:  # PostgreSQL: replicas never claim the same row
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = (await session.execute(stmt)).all()
    if skip_locked and rows:
        rows = await _behind_skipped(session, rows, lane=lane, now=now)
    if not rows:
        return []
    # the lease: invisible to other workers until settled or the lease ends (a crash)
    await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows]))
                          .values(attempts=OutboxMessage.attempts + 1,
                                  next_attempt_at=now + lease))
    return [Delivery(r.id, Recipient.parse(r.recipient), r.kind, r.payload, r.attempts + 1,
                     int(lane)) for r in rows]


async def _behind_skipped(session: AsyncSession, rows: Sequence[Any], *, lane: Lane,
                          now: datetime) -> list[Any]:
    """Drop the rows of a recipient whose earliest due row was skipped as locked: another worker
    is claiming it right now (its lease is not committed yet, so ``waiting`` cannot see it), and
    sending ours beside it would put that recipient's messages out of order — and past a limit
    counted from the outbox, since neither worker sees the other's sends yet."""
    taken = {r.id for r in rows}
    first = dict((await session.execute(
        select(OutboxMessage.recipient, func.min(OutboxMessage.id))
        .where(OutboxMessage.recipient.in_({r.recipient for r in rows}),
               OutboxMessage.status == "pending", OutboxMessage.lane == int(lane),
               _due(OutboxMessage, now))
        .group_by(OutboxMessage.recipient))).tuples().all())
    return [r for r in rows if first.get(r.recipient, r.id) in taken]


async def claim_batch(session: AsyncSession, *, lane: Lane, now: datetime, limit: int,
                      lease: timedelta, skip_locked: bool) -> tuple[list[Delivery], dict[str, Contact]]:
    """:func:`claim`, plus where each employee of the batch is reached, in one transaction."""
    rows = await claim(session, lane=lane, now=now, limit=limit, lease=lease,
                       skip_locked=skip_locked)
    ids = {d.recipient.id for d in rows if d.recipient.kind == "employee"}
    return rows, await contacts(session, ids)


async def settle(session: AsyncSession, outcome: Outcome, *, now: datetime) -> None:
    m = cast(Table, OutboxMessage.__table__)
    if outcome.sent:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(outcome.sent))
                              .values(status="sent", sent_at=now, last_error=None))
    if outcome.released:  # not an attempt: due again, but only after the row it waits for
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(outcome.released))
                              .values(attempts=OutboxMessage.attempts - 1, next_attempt_at=now))
    conn = await session.connection()
    if outcome.deferred:
        await conn.execute(
            m.update().where(m.c.id == bindparam("rid")).values(
                attempts=m.c.attempts - 1, next_attempt_at=bindparam("until"),
                last_error=RATE_LIMITED),
            [{"rid": i, "until": t} for i, t in outcome.deferred.items()])
    if outcome.retry:
        await conn.execute(
            m.update().where(m.c.id == bindparam("rid")).values(
                next_attempt_at=bindparam("until"), last_error=bindparam("err")),
            [{"rid": i, "until": t, "err": e[:1000]} for i, (t, e) in outcome.retry.items()])
    if outcome.failed:
        await conn.execute(
            m.update().where(m.c.id == bindparam("rid")).values(status="failed",
                                                                 last_error=bindparam("err")),
            [{"rid": i, "err": e[:1000]} for i, e in outcome.failed.items()])
    await remember(session, outcome.cards, now=now)


async def recent_sends(session: AsyncSession, addresses: set[str], *,
                       since: datetime) -> list[tuple[str, int, datetime]]:
    """(recipient, row id, sent at) of every row sent to ``addresses`` since ``since``, by any
    worker: the shared count behind the platforms' per-member and per-robot send limits (the
    ``outbox(status, sent_at)`` index bounds the scan to the window)."""
    if not addresses:
        return []
    rows = await session.execute(
        select(OutboxMessage.recipient, OutboxMessage.id, OutboxMessage.sent_at)
        .where(OutboxMessage.status == "sent", OutboxMessage.sent_at >= since,
               OutboxMessage.recipient.in_(addresses)))
    return [(r, i, _aware(t, since)) for r, i, t in rows if t is not None]


async def contacts(session: AsyncSession, employee_ids: set[str]) -> dict[str, Contact]:
    """Where each employee of a batch is reached, in one query."""
    if not employee_ids:
        return {}
    rows = await session.execute(
        select(Employee.employee_id, Employee.locale, Employee.wecom_userid,
               Employee.dingtalk_userid).where(Employee.employee_id.in_(employee_ids)))
    return {r[0]: Contact(*r) for r in rows}


async def list_messages(
    session: AsyncSession, *, failed_only: bool = False, limit: int = 50
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(OutboxMessage.status == "failed")
    return list(await session.scalars(stmt))


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per state that has any (``/metrics`` adds the zeros)."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in rows}


@dataclass(frozen=True, slots=True)
class LaneBacklog:
    lane: Lane
    depth: int
    oldest_age_seconds: float


async def backlog(session: AsyncSession, *, now: datetime) -> list[LaneBacklog]:
    """Pending rows and the age of the oldest one, per lane (every lane, zeros included)."""
    rows = await session.execute(
        select(OutboxMessage.lane, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == "pending").group_by(OutboxMessage.lane))
    found = {int(lane): (int(n), oldest) for lane, n, oldest in rows}
    out = []
    for lane in Lane:
        n, oldest = found.get(int(lane), (0, None))
        age = max(0.0, (now - _aware(oldest, now)).total_seconds()) if oldest is not None else 0.0
        out.append(LaneBacklog(lane, n, age))
    return out


def _aware(value: datetime, now: datetime) -> datetime:
    # aggregates skip the UTCDateTime type decorator on SQLite: a naive value is UTC
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


async def requeue_failed(session: AsyncSession, *, now: datetime) -> int:
    """Put every failed message back in the queue with a fresh retry budget."""
    result = await session.execute(
        update(OutboxMessage).where(OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
