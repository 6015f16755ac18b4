"""Idempotency keys for state changes that are more than one ledger posting (awards, orders, …).

The caller checks ``recall`` first and returns the stored result; otherwise it does the work and
``remember``s the result in the same transaction. A concurrent twin fails on the primary key at
commit and ``Database.run`` retries it, which then finds the stored result.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import IdempotencyKey


async def recall(session: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await session.get(IdempotencyKey, key)
    return None if row is None else dict(json.loads(row.result))


async def remember(session: AsyncSession, key: str, result: dict[str, Any], *, now: datetime) -> None:
    session.add(IdempotencyKey(key=key, result=json.dumps(result, ensure_ascii=False, default=str),
                               created_at=now))
    await session.flush()
