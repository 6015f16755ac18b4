"""The daily retention job: delete old idempotency records, sent outbox rows and expired replay
guards, a batch per short transaction so chat traffic is never locked out for long.

Never deleted: pending or failed outbox rows (failed ones wait for ``jifen outbox retry`` or an
operator), anything younger than ``retention.days`` (at least a week, far beyond any platform's
redelivery window), and any record whose JSON names an approval that is still open — its
``give:``/``apply:`` result, its request, reminder and escalation pushes — so a late click on an
open approval card, or a reminder run, finds everything it found on day one.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import ApprovalRequest, IdempotencyKey, OutboxMessage, SeenRequest

BATCH = 500  # rows per transaction: short enough that a waiting chat write barely notices
_PUBLIC_ID = re.compile(r"(?:^|:)A(\d+)$")  # "A12", or a button action such as "ap:A12"


@dataclass(frozen=True)
class RetentionResult:
    idempotency: int
    outbox: int
    seen: int

    def summary(self) -> str:
        return (f"pruned {self.idempotency} idempotency records, {self.outbox} sent outbox rows, "
                f"{self.seen} replay guards")


async def prune(db: Database, *, now: datetime, days: int, batch: int = BATCH) -> RetentionResult:
    cutoff = now - timedelta(days=days)
    open_ids = await db.run(_open_approvals)
    keys = await _prune_idempotency(db, cutoff, open_ids, batch)
    sent = await _prune_outbox(db, cutoff, open_ids, batch)
    seen = await _prune_seen(db, now, batch)
    return RetentionResult(idempotency=keys, outbox=sent, seen=seen)


async def _open_approvals(session: AsyncSession) -> frozenset[int]:
    ids = await session.scalars(select(ApprovalRequest.id).where(ApprovalRequest.status == "pending"))
    return frozenset(ids)


def names_open_approval(raw: str, open_ids: frozenset[int]) -> bool:
    """Does the stored JSON mention an open approval (``approval_id`` 12 or "A12", or a button
    action on it)? Unreadable JSON is kept too: when in doubt, keep."""
    if not open_ids:
        return False
    try:
        data = json.loads(raw)
    except ValueError:
        return True
    return any(i in open_ids for i in _approval_ids(data))


def _approval_ids(data: Any) -> Iterable[int]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "approval_id" and isinstance(value, int):
                yield value
            yield from _approval_ids(value)
    elif isinstance(data, list):
        for item in data:
            yield from _approval_ids(item)
    elif isinstance(data, str) and (match := _PUBLIC_ID.search(data)):
        yield int(match.group(1))


async def _prune_idempotency(db: Database, cutoff: datetime, open_ids: frozenset[int],
                             batch: int) -> int:
    after, total = "", 0
    while True:  # keyset pagination by key: kept rows are never read twice
        async def step(s: AsyncSession, after: str = after) -> tuple[int, str | None]:
            rows = (await s.execute(
                select(IdempotencyKey.key, IdempotencyKey.result)
                .where(IdempotencyKey.created_at < cutoff, IdempotencyKey.key > after)
                .order_by(IdempotencyKey.key).limit(batch))).all()
            doomed = [k for k, result in rows if not names_open_approval(result, open_ids)]
            if doomed:
                await s.execute(delete(IdempotencyKey).where(IdempotencyKey.key.in_(doomed)))
            return len(doomed), (rows[-1][0] if len(rows) == batch else None)

        n, last = await db.run(step)
        total += n
        if last is None:
            return total
        after = last
        await asyncio.sleep(0)  # let waiting chat work in between batches


async def _prune_outbox(db: Database, cutoff: datetime, open_ids: frozenset[int],
                        batch: int) -> int:
    after, total = 0, 0
    while True:
        async def step(s: AsyncSession, after: int = after) -> tuple[int, int | None]:
            rows = (await s.execute(
                select(OutboxMessage.id, OutboxMessage.payload)
                .where(OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff,
                       OutboxMessage.id > after)
                .order_by(OutboxMessage.id).limit(batch))).all()
            doomed = [i for i, payload in rows if not names_open_approval(payload, open_ids)]
            if doomed:
                await s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(doomed)))
            return len(doomed), (rows[-1][0] if len(rows) == batch else None)

        n, last = await db.run(step)
        total += n
        if last is None:
            return total
        after = last
        await asyncio.sleep(0)


async def _prune_seen(db: Database, now: datetime, batch: int) -> int:
    total = 0
    while True:
        async def step(s: AsyncSession) -> int:
            keys = list(await s.scalars(select(SeenRequest.key)
                                        .where(SeenRequest.expires_at < now).limit(batch)))
            if keys:
                await s.execute(delete(SeenRequest).where(SeenRequest.key.in_(keys)))
            return len(keys)

        n = await db.run(step)
        total += n
        if n < batch:
            return total
        await asyncio.sleep(0)
