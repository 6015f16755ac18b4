"""Rows inserted by the commit (core.pending): idempotency records and fresh outbox rows are
written when their unit of work commits and not when it rolls back; a record is found by
``recall`` in its own unit of work; a savepoint rolled back drops only its own rows; a clash of
keys fails the commit and writes nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.db import Database
from core.models import IdempotencyKey, OutboxMessage
from core.outbox import Recipient, queue


async def _stored(db: Database) -> tuple[set[str], set[str | None]]:
    async with db.reading() as s:
        keys = set(await s.scalars(select(IdempotencyKey.key)))
        sent = set(await s.scalars(select(OutboxMessage.dedupe_key)))
    return keys, sent


async def _both(s: AsyncSession, name: str, now: datetime) -> None:
    await idempotency.remember(s, name, {"n": name}, now=now)
    await queue(s, recipient=Recipient.employee("E1"), kind="text", payload={"text": name},
                now=now, dedupe_key=f"m:{name}", fresh=True)


async def test_written_by_the_commit_and_found_before_it(db: Database, now: datetime) -> None:
    async def work(s: AsyncSession) -> dict[str, object] | None:
        await _both(s, "a", now)
        assert (await idempotency.recall_many(s, ["a", "b"])) == {"a": {"n": "a"}}
        await _both(s, "b", now)
        return await idempotency.recall(s, "b")

    assert await db.run(work) == {"n": "b"}
    assert await _stored(db) == ({"a", "b"}, {"m:a", "m:b"})


async def test_rolled_back_unit_of_work_writes_nothing(db: Database, now: datetime) -> None:
    async def fails(s: AsyncSession) -> None:
        await _both(s, "gone", now)
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await db.run(fails)
    await db.run(lambda s: _both(s, "next", now))  # the same session factory, nothing carried
    assert await _stored(db) == ({"next"}, {"m:next"})


async def test_savepoint_rolled_back_drops_only_its_own(db: Database, now: datetime) -> None:
    async def work(s: AsyncSession) -> None:
        await _both(s, "outer", now)
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                await _both(s, "inner", now)
                raise RuntimeError("undo the savepoint")
        async with s.begin_nested():
            await _both(s, "kept", now)  # released: in the outer transaction from here on
        await _both(s, "last", now)

    await db.run(work)
    assert await _stored(db) == ({"outer", "kept", "last"}, {"m:outer", "m:kept", "m:last"})


async def test_a_clash_fails_the_commit(db: Database, now: datetime) -> None:
    await db.run(lambda s: idempotency.remember(s, "taken", {"first": True}, now=now))

    async def twin(s: AsyncSession) -> None:
        await _both(s, "new", now)
        await idempotency.remember(s, "taken", {"first": False}, now=now)

    with pytest.raises(Exception) as failed:
        await db.run(twin, attempts=1)
    assert "UNIQUE" in str(failed.value).upper() or "duplicate" in str(failed.value)
    assert await _stored(db) == ({"taken"}, set())
    async with db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert await idempotency.recall(s, "taken") == {"first": True}
