"""Queueing: a message is a row written in the caller's transaction, so a rolled-back change
notifies nobody and a committed one is never lost. The bot renders and sends it after commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.outbox import OutboxMessage
from core.outbox.recipient import Lane, Recipient
from core.pending import PendingRows


async def push(
    session: AsyncSession, *, employee_id: str, kind: str, payload: dict[str, Any], now: datetime,
    dedupe_key: str | None = None, fresh: bool = False,
) -> OutboxMessage | None:
    """Queue a notification for an employee. With ``dedupe_key`` a repeat queues nothing;
    ``fresh`` as in ``queue``."""
    return await queue(session, recipient=Recipient.employee(employee_id), kind=kind,
                       payload=payload, now=now, dedupe_key=dedupe_key, fresh=fresh)


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
    claimed in this transaction), so there is no lookup and nothing is returned: the row is
    inserted when the transaction commits, with every other fresh row of that transaction in
    one executemany (a group-committed batch of answers: one statement). The unique key still
    guards it; a clash fails the commit."""
    if dedupe_key is not None and not fresh:
        found = await session.scalar(_FIND_DEDUPE, {"dedupe_key": dedupe_key})
        if found is not None:
            return None
    row = {"recipient": recipient.address, "kind": kind, "dedupe_key": dedupe_key,
           "lane": int(recipient.lane if lane is None else lane), "created_at": now,
           "next_attempt_at": now, "payload": json.dumps(payload, ensure_ascii=False, default=str)}
    if fresh:
        _FRESH.add(session, row)
        return None
    msg = OutboxMessage(**row)
    session.add(msg)
    await session.flush()
    return msg


# Built once: statements built per call cost more CPU than running them (the table's insert, not
# the mapped class's: an executemany of plain rows needs no ORM bulk machinery).
_OUTBOX = cast(Table, OutboxMessage.__table__)
_FIND_DEDUPE = select(_OUTBOX.c.id).where(_OUTBOX.c.dedupe_key == bindparam("dedupe_key"))
_INSERT = insert(_OUTBOX)
# fresh rows: inserted by the commit, every one of the transaction in one executemany (on a
# SQLite lane on the driver in place)
_FRESH = PendingRows(_INSERT)
