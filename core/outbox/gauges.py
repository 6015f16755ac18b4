"""The figures ``/metrics`` shows, read from the database so every replica agrees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Employee, LedgerTransaction, Order
from core.outbox.queries import STATES, LaneBacklog, backlog, counts


@dataclass(frozen=True, slots=True)
class Gauges:
    outbox: dict[str, int]
    lanes: list[LaneBacklog]
    orders: dict[str, int]
    active_employees: int
    ledger_transactions: int


async def gauges(session: AsyncSession, *, now: datetime) -> Gauges:
    orders = {st: int(n) for st, n in await session.execute(
        select(Order.status, func.count()).group_by(Order.status))}
    employees = await session.scalar(select(func.count()).where(Employee.active.is_(True)))
    transactions = await session.scalar(select(func.count()).select_from(LedgerTransaction))
    found = await counts(session)
    outbox = {st: found.get(st, 0) for st in STATES} | found
    return Gauges(outbox, await backlog(session, now=now), orders,
                  int(employees or 0), int(transactions or 0))
