"""SPEC section 13 through DingTalk Stream: the +1 button on a group award card (a click with a
card template, the printed ``+1 Z12`` command without), 撤回 / 申诉 in a group, and the weekly
digest to a DingTalk group and a signed custom robot, once per week."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.jobs.runner import run_digest
from config.policy_loader import load_policy
from core.ledger.verify import verify
from core.models import Award, utcnow
from core.policy import Policy
from tests.e2e.test_dingtalk_flow import DingBot, _balance
from tests.e2e.test_dingtalk_flow import ding as ding  # noqa: F401 - the fixture, both variants


async def _last_award(bot: DingBot) -> Award:
    async with bot.db.uow() as s:
        award = await s.scalar(select(Award).order_by(Award.id.desc()).limit(1))
    assert award is not None
    return award


def _join_cards(bot: DingBot, award_id: int) -> list[dict[str, object]]:
    return [c for c in bot.bodies("/v1.0/card/instances/createAndDeliver")
            if f"p1:Z{award_id}" in json.dumps(c)]


async def test_plus_one_on_a_group_award_card(ding: DingBot) -> None:
    before = await _balance(ding, "E006")
    await ding.say("dt_wangwei", " 赞 @刘洋 10分 谢谢帮忙 #团队合作", group=True, at=["dt_liuyang"])
    award = await _last_award(ding)
    cards = _join_cards(ding, award.id)
    if cards:  # template variant: the group's award card has a +1 button
        track = str(cards[-1]["outTrackId"])
        await ding.click("dt_zhaolei", f"p1:Z{award.id}", track)
        await ding.click("dt_zhaolei", f"p1:Z{award.id}", track)  # double click: one +1
    else:  # markdown variant: the card prints the command, typed in the group
        assert f"+1 Z{award.id}" in ding.text("/robot/sendBySession")
        await ding.say("dt_zhaolei", f" +1 Z{award.id}", group=True)
        await ding.say("dt_zhaolei", f" 我也赞 Z{award.id}", group=True)  # once per person
        assert "已经为" in ding.text("/robot/sendBySession")
    assert await _balance(ding, "E006") == before + 20
    joined = await _last_award(ding)
    assert (joined.joined_from, joined.giver_id) == (award.id, "E003")
    await ding.say("dt_wangwei", f" 撤回 Z{award.id}", group=True)
    assert await _balance(ding, "E006") == before + 10
    await ding.say("dt_liuyang", f" 申诉 Z{award.id} 我觉得不该撤回", group=True)
    assert "不是被扣分或被拒绝" in ding.replies() + ding.text("/robot/sendBySession")
    async with ding.db.uow() as s:
        assert await verify(s) == []


async def test_weekly_digest_to_a_dingtalk_group_and_robot_once(
    ding: DingBot, tmp_path: Path,
) -> None:
    await ding.say("dt_wangwei", " 赞 @刘洋 10分 上线支持辛苦了 #团队合作", group=True,
                   at=["dt_liuyang"])
    award = await _last_award(ding)
    await ding.say("dt_zhaolei", f" +1 Z{award.id} 5")
    data = load_policy(tmp_path / "policy.yaml").model_dump()  # the policy the bot runs with
    data["digest"]["targets"] = ["钉钉项目群", "钉钉全员群"]
    policy = Policy.model_validate(data)
    next_week = utcnow() + timedelta(days=7)
    for _ in range(2):  # the scheduler's leader, then a manual run: one post per target
        await run_digest(ding.db, policy, next_week)
    while await ding.worker.run_once():
        pass
    group = [b for b in ding.bodies("/v1.0/robot/groupMessages/send")
             + ding.bodies("/v1.0/card/instances/createAndDeliver")
             if "cidGroup001==" in json.dumps(b) and "本周积分公示" in json.dumps(b, ensure_ascii=False)]
    robot = [r for r in ding.dt.calls("/robot/send")
             if "本周积分公示" in json.dumps(r.json, ensure_ascii=False)]
    assert len(group) == 1 and len(robot) == 1
    text = json.dumps(group[0], ensure_ascii=False) + json.dumps(robot[0].json, ensure_ascii=False)
    assert "刘洋" in text and "王伟" in text and "团队合作" in text
    assert f"+1 Z{award.id}" in json.dumps(robot[0].json, ensure_ascii=False)  # markdown fallback
