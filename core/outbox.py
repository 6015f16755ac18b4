"""Operator queries over the outbox table (``jifen outbox``); sending lives in the bot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import OutboxMessage


async def list_messages(
    session: AsyncSession, *, failed_only: bool = False, limit: int = 50
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(OutboxMessage.status == "failed")
    return list(await session.scalars(stmt))


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in rows}


async def requeue_failed(session: AsyncSession, *, now: datetime) -> int:
    """Put every failed message back in the queue with a fresh retry budget."""
    result = await session.execute(
        update(OutboxMessage).where(OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
