"""The reply sink wakes the outbox worker once per committed transaction that queued replies, and
not at all for one that rolled back (its rows were never written)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox.sink import OutboxSink
from bot.runtime.events import IncomingText, Source
from cards.builders import message
from core.db import Database
from core.models import OutboxMessage


def _event(n: int) -> IncomingText:
    return IncomingText(source=Source(platform="wecom", user_id="u1"), message_id=f"sink{n}",
                        text="积分")


async def _rows(db: Database) -> int:
    return int(await db.read(lambda s: s.scalar(select(func.count()).select_from(OutboxMessage))) or 0)


async def test_one_wake_per_committed_transaction(db: Database) -> None:
    wakes: list[int] = []
    sink = OutboxSink(on_commit=lambda: wakes.append(1))

    async def two_answers(s: AsyncSession) -> None:
        await sink(s, _event(1), [message("a")], None)
        await sink(s, _event(2), [message("b")], None)
        assert wakes == []  # not before the commit

    await db.run(two_answers)
    assert wakes == [1]
    assert await _rows(db) == 2

    async def nothing_queued(s: AsyncSession) -> None:
        await s.scalar(select(1))

    await db.run(nothing_queued)  # a later transaction of the same kind of session: no wake
    assert wakes == [1]


async def test_a_rolled_back_transaction_wakes_nobody(db: Database) -> None:
    wakes: list[int] = []
    sink = OutboxSink(on_commit=lambda: wakes.append(1))

    async def fails(s: AsyncSession) -> None:
        await sink(s, _event(3), [message("c")], None)
        await s.flush()
        raise RuntimeError("the event's work failed")

    with pytest.raises(RuntimeError):
        await db.run(fails)
    assert wakes == []
    assert await _rows(db) == 0
