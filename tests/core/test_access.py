"""HR actions are authorised in the core from the actor's roles, not only by the chat handler."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from core import errors
from core.db import Database
from core.hr.broadcast import broadcast
from core.models import OutboxMessage
from core.policy import Policy
from core.reports.service import month_summary
from tests.core.test_awards import org


async def _outbox_size(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_broadcast_by_a_non_hr_actor_is_refused_in_core(db: Database, now: datetime) -> None:
    await org(db)
    before = await _outbox_size(db)
    for actor in ("E1", "M1", "GONE", "NOBODY"):
        with pytest.raises(errors.Forbidden):
            async with db.uow() as s:
                await broadcast(s, actor_id=actor, targets=["all"], text="周五下午茶", now=now,
                                dedupe_key=f"b:{actor}")
    assert await _outbox_size(db) == before
    async with db.uow() as s:
        n = await broadcast(s, actor_id="HR1", targets=["all"], text="周五下午茶", now=now,
                            dedupe_key="b:HR1")
    assert n == 1 and await _outbox_size(db) == before + 1


async def test_report_by_a_non_hr_actor_is_refused_in_core(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    async with db.uow() as s:
        with pytest.raises(errors.Forbidden):
            await month_summary(s, actor_id="E1", month="2026-03", now=now, policy=policy)
        assert (await month_summary(s, actor_id="ADM", month="2026-03", now=now,
                                    policy=policy)).month == "2026-03"
