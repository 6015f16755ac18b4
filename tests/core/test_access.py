"""HR actions are authorised in the core from the actor's roles, not only by the chat handler."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from core import errors
from core.db import Database
from core.hr.broadcast import broadcast
from core.models import OutboxMessage
from core.policy import BroadcastPolicy, BroadcastTarget, Policy
from core.reports.service import month_summary
from tests.core.test_awards import org


async def _outbox_size(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_broadcast_by_a_non_hr_actor_is_refused_in_core(db: Database, now: datetime,
                                                               policy: Policy) -> None:
    policy = policy.model_copy(update={"broadcast": BroadcastPolicy(targets=[BroadcastTarget(
        name="all", platform="wecom", kind="webhook", url="https://example.invalid/hook")])})
    await org(db)
    before = await _outbox_size(db)
    for actor in ("E1", "M1", "GONE", "NOBODY"):
        with pytest.raises(errors.Forbidden):
            async with db.uow() as s:
                await broadcast(s, actor_id=actor, target=None, text="周五下午茶", now=now,
                                key=f"b:{actor}", policy=policy)
    assert await _outbox_size(db) == before
    async with db.uow() as s:
        sent = await broadcast(s, actor_id="HR1", target=None, text="周五下午茶", now=now,
                               key="b:HR1", policy=policy)
    assert sent.targets == ["all"] and await _outbox_size(db) == before + 1


async def test_report_by_a_non_hr_actor_is_refused_in_core(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    async with db.uow() as s:
        with pytest.raises(errors.Forbidden):
            await month_summary(s, actor_id="E1", month="2026-03", now=now, policy=policy)
        assert (await month_summary(s, actor_id="ADM", month="2026-03", now=now,
                                    policy=policy)).month == "2026-03"
