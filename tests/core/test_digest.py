"""Worked examples for 排行 点赞 / 排行 价值观 and the weekly digest (公示)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core.db import Database
from core.models import OutboxMessage
from core.policy import Policy
from core.reports import recognition
from core.reports.service import leaderboard
from tests.core.test_awards import give, org
from tests.core.test_recognition import join, revoke, undo
from tests.factories import add_employee

# Monday 2026-03-09 .. Sunday 03-15 local is ISO week 11; 03-16 is the Monday after.
WEDNESDAY = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 3, 16, 1, 30, tzinfo=UTC)  # 09:30 Shanghai


def with_targets(policy: Policy, *names: str) -> Policy:
    data = policy.model_dump()
    data["broadcast"]["targets"] = [{"name": n, "platform": "wecom", "kind": "appchat",
                                     "chatid": f"chat-{i}"} for i, n in enumerate(names)]
    data["digest"]["targets"] = list(names)
    return Policy.model_validate(data)


async def week_of_awards(db: Database, policy: Policy) -> dict[str, int]:
    await org(db)
    async with db.uow() as s:
        await add_employee(s, "S1", "孙七", department="销售部", manager_id="M1")
    [a] = (await give(db, policy, WEDNESDAY, "E1", ["E2"], 20)).awards
    [b] = (await give(db, policy, WEDNESDAY, "E3", ["S1"], 30, reason="签下大单 #客户第一")).awards
    await join(db, policy, WEDNESDAY, "M1", a.award_id, amount=10)
    await join(db, policy, WEDNESDAY, "E3", a.award_id, amount=5)
    await join(db, policy, WEDNESDAY, "E1", b.award_id, amount=5)
    [c] = (await give(db, policy, WEDNESDAY, "M1", ["E3"], 40)).awards
    await undo(db, policy, WEDNESDAY, "M1", c.award_id)  # does not count anywhere
    [d] = (await give(db, policy, WEDNESDAY, "E2", ["E1"], 15)).awards
    await revoke(db, policy, WEDNESDAY, "HR1", d.award_id)
    return {"a": a.award_id, "b": b.award_id}


async def test_giver_and_value_boards_by_period_and_department(
    db: Database, policy: Policy,
) -> None:
    await week_of_awards(db, policy)
    async with db.uow() as s:
        top = await recognition.giver_board(s, period="month", department=None, now=WEDNESDAY,
                                            policy=policy)
        sales = await recognition.giver_board(s, period="month", department="销售部",
                                              now=WEDNESDAY, policy=policy)
        tags = await recognition.value_board(s, period="month", department=None, now=WEDNESDAY,
                                             policy=policy)
        sales_tags = await recognition.value_board(s, period="quarter", department="销售部",
                                                   now=WEDNESDAY, policy=policy)
        receivers = await leaderboard(s, period="month", department=None, now=WEDNESDAY,
                                      policy=policy)
    assert [(r.rank, r.employee_id, r.points, r.awards) for r in top] == [
        (1, "E3", 35, 2), (2, "E1", 25, 2), (3, "M1", 10, 1)]
    assert sales == []  # nobody in 销售部 gave
    assert [(r.value, r.awards, r.points) for r in tags] == [("团队合作", 3, 35), ("客户第一", 2, 35)]
    assert [(r.value, r.awards) for r in sales_tags] == [("客户第一", 2)]
    # undone and revoked awards leave the receivers' board too
    assert sorted((r.employee_id, r.points) for r in receivers) == [("E2", 35), ("S1", 35)]


async def test_weekly_digest_covers_last_week_and_posts_once_per_target(
    db: Database, policy: Policy,
) -> None:
    ids = await week_of_awards(db, policy)
    two = with_targets(policy, "全员群", "研发群")
    async with db.uow() as s:
        dry = await recognition.post_digest(s, now=NEXT_MONDAY, policy=two, dry_run=True)
        assert (dry.queued, dry.already) == (["全员群", "研发群"], [])
        assert await s.scalar(select(OutboxMessage.id).where(
            OutboxMessage.kind == "weekly_digest")) is None
    async with db.uow() as s:
        run = await recognition.post_digest(s, now=NEXT_MONDAY, policy=two)
    digest = run.digest
    assert (digest.week, digest.first_day, digest.last_day) == ("2026-W11", "2026-03-09",
                                                                "2026-03-15")
    assert run.queued == ["全员群", "研发群"]
    assert [(r.award_id, r.joins, r.points) for r in digest.joined] == [(ids["a"], 2, 35),
                                                                       (ids["b"], 1, 35)]
    assert digest.givers[0].employee_id == "E3" and digest.values[0].value == "团队合作"
    async with db.uow() as s:  # a second run (another replica, a retried job) queues nothing
        again = await recognition.post_digest(s, now=NEXT_MONDAY + timedelta(hours=2), policy=two)
        assert (again.queued, again.already) == ([], ["全员群", "研发群"])
        rows = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "weekly_digest").order_by(OutboxMessage.id)))
    assert [(m.recipient, m.dedupe_key) for m in rows] == [
        ("target:全员群", "digest:2026-W11:全员群"), ("target:研发群", "digest:2026-W11:研发群")]
    assert json.loads(rows[0].payload)["week"] == "2026-W11"
    async with db.uow() as s:  # the week after is a new digest, and an empty one
        later = await recognition.post_digest(s, now=NEXT_MONDAY + timedelta(days=7), policy=two)
    assert later.digest.week == "2026-W12" and later.digest.givers == []
    assert later.queued == ["全员群", "研发群"]


def test_digest_policy_is_validated(policy: Policy) -> None:
    assert (policy.digest.cron, policy.digest.targets) == ("30 9 * * mon", [])
    data = policy.model_dump()
    data["digest"]["targets"] = ["没有这个群"]
    with pytest.raises(ValidationError, match="digest.targets"):
        Policy.model_validate(data)
    data["digest"] = {"cron": "every monday"}
    with pytest.raises(ValidationError):
        Policy.model_validate(data)
