"""Recognition boards (排行 点赞 / 排行 价值观) and the weekly digest (公示).

Givers and values come from the awards themselves: paid awards (status ``approved``) given in
the period; undone, revoked, rejected and pending ones do not count. A givers board filtered by
department looks at the giver's department, a values board at the recipient's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.models import Award, Employee, OutboxMessage
from core.outbox import broadcast
from core.policy import Policy
from core.reports.service import LeaderRow, period_bounds, receivers
from core.timeutil import local_date, start_of_local_day

__all__ = [
    "Digest", "DigestRun", "GiverRow", "JoinedRow", "ValueRow", "giver_board", "givers",
    "most_joined", "post_digest", "value_board", "values", "weekly_digest",
]


@dataclass(frozen=True)
class GiverRow:
    rank: int
    employee_id: str
    name: str
    department: str
    points: int
    awards: int


@dataclass(frozen=True)
class ValueRow:
    rank: int
    value: str
    awards: int
    points: int


@dataclass(frozen=True)
class JoinedRow:
    award_id: int
    giver_name: str
    recipient_name: str
    reason: str
    joins: int
    points: int  # the original award plus every +1


@dataclass(frozen=True)
class Digest:
    week: str  # ISO week of the covered local week, e.g. 2026-W11
    first_day: str  # local Monday, YYYY-MM-DD
    last_day: str  # local Sunday
    receivers: list[LeaderRow] = field(default_factory=list)
    givers: list[GiverRow] = field(default_factory=list)
    values: list[ValueRow] = field(default_factory=list)
    joined: list[JoinedRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DigestRun:
    digest: Digest
    queued: list[str]  # targets queued by this run (with dry_run: that would be queued)
    already: list[str]  # targets this week's digest was queued for before (another run/replica)


def _paid(start: datetime, end: datetime) -> Any:
    return (Award.status == "approved", Award.created_at >= start, Award.created_at < end)


async def givers(
    session: AsyncSession, *, start: datetime, end: datetime, department: str | None,
    limit: int = 10,
) -> list[GiverRow]:
    """Active employees ranked by points given in paid awards in [start, end)."""
    points = func.sum(Award.amount)
    stmt = (select(Employee.employee_id, Employee.name, Employee.department, points, func.count())
            .join(Employee, Employee.employee_id == Award.giver_id)
            .where(*_paid(start, end), Employee.active.is_(True))
            .group_by(Employee.employee_id, Employee.name, Employee.department)
            .order_by(points.desc(), Employee.name, Employee.employee_id).limit(limit))
    if department:
        stmt = stmt.where(Employee.department == department)
    rows = await session.execute(stmt)
    return [GiverRow(rank, emp, name, dept, int(p), int(n))
            for rank, (emp, name, dept, p, n) in enumerate(rows, start=1)]


async def values(
    session: AsyncSession, *, start: datetime, end: datetime, department: str | None,
    limit: int = 10,
) -> list[ValueRow]:
    """Company values (hashtags) ranked by how many paid awards in [start, end) carried them."""
    stmt = (select(Award.hashtags, Award.amount)
            .join(Employee, Employee.employee_id == Award.recipient_id)
            .where(*_paid(start, end), Award.hashtags != ""))
    if department:
        stmt = stmt.where(Employee.department == department)
    counts: dict[str, list[int]] = {}
    for tags, amount in await session.execute(stmt):
        for tag in str(tags).split():
            row = counts.setdefault(tag, [0, 0])
            row[0], row[1] = row[0] + 1, row[1] + int(amount)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:limit]
    return [ValueRow(rank, tag, n, p) for rank, (tag, (n, p)) in enumerate(ranked, start=1)]


async def most_joined(
    session: AsyncSession, *, start: datetime, end: datetime, limit: int = 5,
) -> list[JoinedRow]:
    """Awards most joined (+1) by paid joins given in [start, end)."""
    joins, points = func.count(), func.sum(Award.amount)
    rows = list(await session.execute(
        select(Award.joined_from, joins, points).where(*_paid(start, end),
                                                       Award.joined_from.is_not(None))
        .group_by(Award.joined_from).order_by(joins.desc(), points.desc(), Award.joined_from)
        .limit(limit)))
    giver, recipient = aliased(Employee), aliased(Employee)
    out = []
    for first_id, n, p in rows:
        first = (await session.execute(
            select(Award, giver.name, recipient.name).where(Award.id == first_id)
            .join(giver, giver.employee_id == Award.giver_id)
            .join(recipient, recipient.employee_id == Award.recipient_id))).one()
        award = first[0]
        extra = award.amount if award.status == "approved" else 0
        out.append(JoinedRow(award.id, first[1], first[2], award.reason, int(n), int(p) + extra))
    return out


async def giver_board(
    session: AsyncSession, *, period: str, department: str | None, now: datetime, policy: Policy,
    limit: int = 10,
) -> list[GiverRow]:
    """排行 点赞: top givers in the local month / quarter / year containing ``now``."""
    start, end = period_bounds(period, now, policy)
    return await givers(session, start=start, end=end, department=department, limit=limit)


async def value_board(
    session: AsyncSession, *, period: str, department: str | None, now: datetime, policy: Policy,
    limit: int = 10,
) -> list[ValueRow]:
    """排行 价值观: awards per company value in the local period containing ``now``."""
    start, end = period_bounds(period, now, policy)
    return await values(session, start=start, end=end, department=department, limit=limit)


def digest_week(now: datetime, policy: Policy) -> tuple[date, datetime, datetime]:
    """(local Monday, UTC start, UTC end) of the last full local week before ``now``'s week."""
    today = local_date(now, policy)
    monday = today - timedelta(days=today.weekday() + 7)
    return (monday, start_of_local_day(monday, policy),
            start_of_local_day(monday + timedelta(days=7), policy))


async def weekly_digest(session: AsyncSession, *, now: datetime, policy: Policy) -> Digest:
    """The 公示 figures of the last full local week (Monday to Sunday) before ``now``."""
    monday, start, end = digest_week(now, policy)
    top = policy.digest.top
    year, week, _ = monday.isocalendar()
    return Digest(
        week=f"{year}-W{week:02d}", first_day=monday.isoformat(),
        last_day=(monday + timedelta(days=6)).isoformat(),
        receivers=await receivers(session, start=start, end=end, department=None, limit=top),
        givers=await givers(session, start=start, end=end, department=None, limit=top),
        values=await values(session, start=start, end=end, department=None, limit=top),
        joined=await most_joined(session, start=start, end=end, limit=top))


async def post_digest(
    session: AsyncSession, *, now: datetime, policy: Policy, dry_run: bool = False,
) -> DigestRun:
    """Queue the digest card to each ``digest.targets`` once per covered week: the outbox
    dedupe key ``digest:<week>:<target>`` is unique, so a second run, a second replica or a
    redelivered job queues nothing more (a concurrent twin fails on it and is retried)."""
    digest = await weekly_digest(session, now=now, policy=policy)
    queued: list[str] = []
    already: list[str] = []
    for target in policy.digest.targets:
        key = f"digest:{digest.week}:{target}"
        if dry_run:
            seen = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
            (queued if seen is None else already).append(target)
            continue
        msg = await broadcast(session, target=target, kind="weekly_digest",
                              payload=digest.to_dict(), now=now, dedupe_key=key)
        (queued if msg is not None else already).append(target)
    return DigestRun(digest, queued, already)
