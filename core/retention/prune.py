"""The daily retention job: delete old idempotency records, sent outbox rows, processed inbox
events and expired replay guards, a batch per short transaction so chat traffic is never locked out for long.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import (
    ApprovalRequest,
    Base,
    IdempotencyKey,
    InboxEvent,
    OutboxMessage,
    SeenRequest,
)

BATCH = 500  # rows per transaction: short enough that a waiting chat write barely notices
_PUBLIC_ID = re.compile(r"(?:^|:)A(\d+)$")  # "A12", or a button action such as "ap:A12"


@dataclass(frozen=True)
class RetentionResult:
    idempotency: int
    outbox: int
    seen: int
    inbox: int = 0

    def summary(self) -> str:
        return (f"pruned {self.idempotency} idempotency records, {self.outbox} sent outbox rows, "
                f"{self.seen} replay guards, {self.inbox} processed inbox events")


async def prune(db: Database, *, now: datetime, days: int, batch: int = BATCH) -> RetentionResult:
    cutoff = now - timedelta(days=days)
    open_ids = await db.run(_open_approvals)
    keys = await _prune_idempotency(db, cutoff, open_ids, batch)
    sent = await _prune_outbox(db, cutoff, open_ids, batch)
    seen = await _prune_seen(db, now, batch)
    events = await _prune_inbox(db, cutoff, batch)
    return RetentionResult(idempotency=keys, outbox=sent, seen=seen, inbox=events)


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
    return await _prune_pages(
        db, IdempotencyKey, IdempotencyKey.key, "", open_ids, batch,
        lambda after: select(IdempotencyKey.key, IdempotencyKey.result)
        .where(IdempotencyKey.created_at < cutoff, IdempotencyKey.key > after))


async def _prune_outbox(db: Database, cutoff: datetime, open_ids: frozenset[int],
                        batch: int) -> int:
    return await _prune_pages(
        db, OutboxMessage, OutboxMessage.id, 0, open_ids, batch,
        lambda after: select(OutboxMessage.id, OutboxMessage.payload)
        .where(OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff,
               OutboxMessage.id > after))


async def _prune_pages(db: Database, model: type[Base], key: Any, after: Any,
                       open_ids: frozenset[int], batch: int,
                       page: Callable[[Any], Select[tuple[Any, str]]]) -> int:
    """Delete the (key, JSON) rows ``page(after)`` selects, in batches, except those naming an
    open approval; keyset pagination by ``key``, so kept rows are never read twice."""
    total = 0
    while True:
        async def step(s: AsyncSession, after: Any = after) -> tuple[int, Any]:
            rows = (await s.execute(page(after).order_by(key).limit(batch))).all()
            doomed = [k for k, raw in rows if not names_open_approval(raw, open_ids)]
            if doomed:
                await s.execute(delete(model).where(key.in_(doomed)))
            return len(doomed), (rows[-1][0] if len(rows) == batch else None)

        n, last = await db.run(step)
        total += n
        if last is None:
            return total
        after = last
        await asyncio.sleep(0)  # let waiting chat work in between batches


async def _delete_batches(db: Database, model: type[Base], key: Any, *where: Any,
                         batch: int) -> int:
    """Delete the rows of ``model`` matching ``where``, ``batch`` keys per short transaction,
    yielding to chat work between batches; how many were deleted."""
    total = 0
    while True:
        async def step(s: AsyncSession) -> int:
            keys = list(await s.scalars(select(key).where(*where).order_by(key).limit(batch)))
            if keys:
                await s.execute(delete(model).where(key.in_(keys)))
            return len(keys)

        n = await db.run(step)
        total += n
        if n < batch:
            return total
        await asyncio.sleep(0)


async def _prune_seen(db: Database, now: datetime, batch: int) -> int:
    return await _delete_batches(db, SeenRequest, SeenRequest.key, SeenRequest.expires_at < now,
                                 batch=batch)


async def _prune_inbox(db: Database, cutoff: datetime, batch: int) -> int:
    """Processed (``done``) or given-up (``failed``) inbox events; ``pending`` ones are kept."""
    return await _delete_batches(db, InboxEvent, InboxEvent.id,
                                 InboxEvent.state.in_(("done", "failed")),
                                 InboxEvent.created_at < cutoff, batch=batch)
