"""An HR grant that repeats one made earlier the same local day (same employee, points, reason).

Grants without a caller's key are not idempotent, so running the same command twice would pay
twice; callers ask here first and want an explicit "again" before paying a second time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Account, Entry, LedgerTransaction
from core.policy import Policy
from core.timeutil import local_date, start_of_local_day


async def same_grant_today(
    session: AsyncSession, *, employee_id: str, amount: int, reason: str, now: datetime,
    policy: Policy,
) -> datetime | None:
    """When an identical grant was posted earlier on ``now``'s local day, its time; else None."""
    start = start_of_local_day(local_date(now, policy), policy)
    end = start_of_local_day(local_date(now, policy) + timedelta(days=1), policy)
    return await session.scalar(
        select(LedgerTransaction.created_at)
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Entry.account_id)
        .where(LedgerTransaction.kind == "grant", LedgerTransaction.reason == reason.strip(),
               LedgerTransaction.created_at >= start, LedgerTransaction.created_at < end,
               Account.code == f"emp:{employee_id}", Entry.amount == amount)
        .order_by(LedgerTransaction.created_at.desc()).limit(1))
