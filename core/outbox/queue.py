"""Queueing: a message is a row written in the caller's transaction, so a rolled-back change
notifies nobody and a committed one is never lost. The bot renders and sends it after commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.outbox import OutboxMessage
from core.outbox.recipient import Lane, Recipient


async def push(
    session: AsyncSession, *, employee_id: str, kind: str, payload: dict[str, Any], now: datetime,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a notification for an employee. With ``dedupe_key`` a repeat queues nothing."""
    return await queue(session, recipient=Recipient.employee(employee_id), kind=kind,
                       payload=payload, now=now, dedupe_key=dedupe_key)


async def broadcast(
    session: AsyncSession, *, target: str, kind: str, payload: dict[str, Any], now: datetime,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a message for a broadcast target named in the policy file."""
    return await queue(session, recipient=Recipient.target(target), kind=kind, payload=payload,
                       now=now, dedupe_key=dedupe_key)


async def queue(
    session: AsyncSession, *, recipient: Recipient, kind: str, payload: dict[str, Any],
    now: datetime, dedupe_key: str | None = None, lane: Lane | None = None, fresh: bool = False,
) -> OutboxMessage | None:
    """Queue any outgoing message, in the recipient's lane unless ``lane`` says otherwise.

    ``fresh``: the caller knows ``dedupe_key`` is new (it derives from an idempotency key
    claimed in this transaction), so there is no lookup and no flush here: the row goes in with
    the transaction's next flush, several rows in one statement (the unique key still guards
    it; a clash fails the transaction)."""
    if dedupe_key is not None and not fresh:
        found = await session.scalar(select(OutboxMessage.id)
                                     .where(OutboxMessage.dedupe_key == dedupe_key))
        if found is not None:
            return None
    msg = OutboxMessage(recipient=recipient.address, kind=kind, dedupe_key=dedupe_key,
                        lane=int(recipient.lane if lane is None else lane),
                        created_at=now, next_attempt_at=now,
                        payload=json.dumps(payload, ensure_ascii=False, default=str))
    session.add(msg)
    if not fresh:
        await session.flush()
    return msg
