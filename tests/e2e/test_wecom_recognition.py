"""SPEC section 13 end to end through encrypted WeCom callbacks: +1, 撤回, 撤销, 申诉, the new
boards and the weekly digest to the WeCom broadcast targets (webhook robot and appchat).

Demo directory: 王伟 E004 (wangwei) and 刘洋 E006 (liuyang) report to 赵磊 E003 (zhaolei);
林芳 E002 (linfang) is HR; 孙悦 E007 (sunyue) is in 市场部.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import POLICY_KEY
from bot.jobs.runner import run_digest
from core.models import Award, LedgerTransaction, utcnow
from tests.e2e.conftest import WeComBot, _policy_with_targets, start_bot
from tests.e2e.test_wecom_flow import _balance, _card_buttons, _verify
from tests.fakes.wecom_server import FakeWeComAPI


@pytest.fixture
async def bot(db_url: str, aiohttp_client, tmp_path: Path) -> AsyncIterator[WeComBot]:  # type: ignore[no-untyped-def]
    """The WeCom bot with both broadcast targets also named as digest targets."""
    async with FakeWeComAPI() as api:
        policy_file = _with_digest_targets(Path(_policy_with_targets(api, tmp_path)))
        yield await start_bot(api, db_url, aiohttp_client, policy_file=policy_file)


def _with_digest_targets(path: Path) -> str:
    text = path.read_text(encoding="utf-8").replace(
        "  # targets: [全员群] ", "  targets: [全员群, 研发群] ")
    path.write_text(text, encoding="utf-8")
    return str(path)


def _said(bot: WeComBot, user: str, since: int = 0) -> str:
    return json.dumps(bot.sent_to(user)[since:], ensure_ascii=False)


async def _ask(bot: WeComBot, user: str, text: str, *, msg_id: str | None = None) -> str:
    before = len(bot.sent_to(user))
    await bot.say(user, text, msg_id=msg_id)
    await bot.flush()
    return _said(bot, user, before)


async def _last_award(bot: WeComBot) -> Award:
    async with bot.db.uow() as s:
        award = await s.scalar(select(Award).order_by(Award.id.desc()).limit(1))
    assert award is not None
    return award


async def test_plus_one_undo_and_revoke(bot: WeComBot) -> None:
    liuyang = await _balance(bot, "E006")
    reply = await _ask(bot, "wangwei", "赞 @刘洋 10分 周报写得清楚")
    first = await _last_award(bot)
    assert f"+1 Z{first.id}" in reply  # the award's id and how to join it
    said = [await _ask(bot, "zhaolei", f"+1 Z{first.id}", msg_id="plus-1") for _ in range(3)]
    assert "追加点赞 10 分" in said[0]  # WeCom retries the same MsgId: one +1, one answer
    assert "追加点赞" not in "".join(said[1:])
    joined = await _last_award(bot)
    assert (joined.joined_from, joined.giver_id, joined.reason) == (first.id, "E003", first.reason)
    assert "赵磊 也为你点赞" in _said(bot, "liuyang")
    assert await _balance(bot, "E006") == liuyang + 20

    assert "只能撤回自己送出的点赞" in await _ask(bot, "sunyue", f"撤回 Z{first.id}")
    assert "已撤回给 刘洋 的 10 分" in await _ask(bot, "wangwei", f"撤回 Z{first.id}")
    assert "王伟（研发部） 撤回了给你的 10 分" in _said(bot, "liuyang")
    assert "不能这样操作" in await _ask(bot, "sunyue", f"+1 Z{first.id}")  # undone: no more +1

    assert "只有 HR" in await _ask(bot, "wangwei", f"撤销 Z{joined.id} 误操作")
    assert f"已撤销 Z{joined.id}" in await _ask(bot, "linfang", f"撤销 Z{joined.id} 重复发放")
    assert "已被 HR 撤销" in _said(bot, "zhaolei") and "已被 HR 撤销" in _said(bot, "liuyang")
    assert await _balance(bot, "E006") == liuyang
    assert "Z999999" in await _ask(bot, "zhaolei", "undo Z999999")  # one line, in English
    await _verify(bot)


async def test_appeal_of_a_deduction_approved_by_hr_button(bot: WeComBot) -> None:
    before = await _balance(bot, "E006")
    await _ask(bot, "linfang", "扣除 @刘洋 30 迟到")
    async with bot.db.uow() as s:
        tx = await s.scalar(select(LedgerTransaction).where(LedgerTransaction.kind == "deduct")
                            .order_by(LedgerTransaction.id.desc()).limit(1))
    assert tx is not None and f"申诉 T{tx.id}" in _said(bot, "liuyang")
    assert "理由至少" in await _ask(bot, "liuyang", f"申诉 T{tx.id} 错")
    reply = await _ask(bot, "liuyang", f"申诉 T{tx.id} 当天请假，有审批记录")
    approval = re.search(r"A\d+", reply)
    assert approval is not None and "等待 HR 审批" in reply
    card = [m for m in bot.sent_to("linfang") if m["msgtype"] == "template_card"][-1]
    assert "申诉待审批" in json.dumps(card, ensure_ascii=False)
    approve = next(b for b in _card_buttons(card) if b["key"].startswith("ap:"))
    await bot.click("linfang", approve["key"], task_id=card["template_card"]["task_id"])
    await bot.flush()
    assert await _balance(bot, "E006") == before
    assert "已同意" in _said(bot, "liuyang")
    assert "已申诉过" in await _ask(bot, "liuyang", f"申诉 T{tx.id} 再来一次")
    await _verify(bot)


async def test_boards_balance_and_weekly_digest_once_per_target(bot: WeComBot) -> None:
    await _ask(bot, "wangwei", "赞 @刘洋 10分 上线支持 #团队合作")
    first = await _last_award(bot)
    await _ask(bot, "sunyue", f"我也赞 Z{first.id} 5")
    assert "王伟" in await _ask(bot, "zhaolei", "排行 点赞")
    assert "#团队合作" in await _ask(bot, "zhaolei", "leaderboard values")
    assert "本月可赠" in await _ask(bot, "zhaolei", "积分")

    policy = bot.client.app[POLICY_KEY]
    next_week = utcnow() + timedelta(days=7)
    dry = await run_digest(bot.db, policy, next_week, dry_run=True)
    assert "would post to 全员群, 研发群" in dry
    await bot.flush()
    assert not bot.api.calls("webhook/send")
    assert "queued for 全员群, 研发群" in await run_digest(bot.db, policy, next_week)
    again = await run_digest(bot.db, policy, next_week + timedelta(hours=1))  # another replica
    assert "already posted to 全员群, 研发群" in again
    await bot.flush()
    hooks, chats = bot.api.calls("webhook/send"), bot.api.calls("appchat/send")
    assert len(hooks) == 1 and len(chats) == 1
    for call in (hooks[0], chats[0]):
        text = json.dumps(call.json, ensure_ascii=False)
        assert "本周积分公示" in text and "刘洋" in text and f"+1 Z{first.id}" in text
