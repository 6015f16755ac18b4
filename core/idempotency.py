"""Idempotency keys for state changes that are more than one ledger posting (awards, orders, …).

The caller checks ``recall`` first and returns the stored result; otherwise it does the work and
``remember``s the result in the same transaction (the row is inserted by the commit). A
concurrent twin fails on the primary key at commit and ``Database.run`` retries it, which then
finds the stored result.

``claim`` is for a result known before anything is written (an answer computed in a read-only
snapshot): one ``INSERT … ON CONFLICT DO NOTHING`` instead of a lookup plus an insert.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import IdempotencyKey
from core.pending import PendingRows
from core.upsert import do_nothing

# Built once (per dialect) and executed with parameters: see core.upsert
_KEYS = cast(Table, IdempotencyKey.__table__)
_RECALL_MANY = select(_KEYS.c.key, _KEYS.c.result).where(
    _KEYS.c.key.in_(bindparam("keys", expanding=True)))
_RECALL = select(_KEYS.c.result).where(_KEYS.c.key == bindparam("key"))
_WAITING = PendingRows(insert(_KEYS))


async def written(session: AsyncSession) -> None:
    """Insert the records ``remember``ed in this unit of work now, for a statement of the
    caller's own that reads the table (a record is found like a stored one)."""
    await _WAITING.insert_now(session)


async def recall(session: AsyncSession, key: str) -> dict[str, Any] | None:
    await written(session)
    # the stored JSON, not an ORM object: nothing here needs one, and loading it cost more
    # than the statement
    result = await session.scalar(_RECALL, {"key": key})
    return None if result is None else dict(json.loads(result))


async def remember(session: AsyncSession, key: str, result: dict[str, Any], *, now: datetime) -> None:
    # not inserted now: the commit inserts the records of its unit of work (the event's and a
    # service's) in one executemany (core.pending); a clash with a committed twin fails the
    # commit just the same, and ``recall`` / ``claim`` insert them first
    _WAITING.add(session, {"key": key, "created_at": now,
                           "result": json.dumps(result, ensure_ascii=False, default=str)})


async def claim(session: AsyncSession, key: str, result: dict[str, Any], *, now: datetime) -> bool:
    """Store ``result`` under ``key`` unless the key is taken; True if this call stored it."""
    return key in await claim_many(session, {key: result}, now=now)


async def claim_many(session: AsyncSession, results: dict[str, dict[str, Any]], *,
                     now: datetime) -> set[str]:
    """Store each result under its key unless the key is taken, in one multi-row
    ``INSERT … ON CONFLICT DO NOTHING RETURNING``; the keys this call stored. On PostgreSQL a
    twin inserting the same key concurrently makes this wait for its commit (then the key is
    not ours) or rollback (then it is), so exactly one of them claims a key."""
    if not results:
        return set()
    await written(session)
    rows = [{"key": key, "created_at": now,
             "result": json.dumps(result, ensure_ascii=False, default=str)}
            for key, result in results.items()]
    return set((await session.scalars(do_nothing(
        _KEYS, session.get_bind().dialect.name, ("key",), (_KEYS.c.key,)), rows)).all())


async def recall_many(session: AsyncSession, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The stored results of those of ``keys`` that have one, in one query."""
    if not keys:
        return {}
    await written(session)
    rows = await session.execute(_RECALL_MANY, {"keys": keys})
    return {key: dict(json.loads(result)) for key, result in rows.tuples()}
