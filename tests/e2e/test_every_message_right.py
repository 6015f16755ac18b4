"""Every message right, in one language, end to end through encrypted WeCom callbacks.

Demo: 林芳 linfang E002 HR, 赵磊 zhaolei E003 (manager of 王伟 E004 and 刘洋 E006), 王伟 wangwei E004
研发部 and 王伟 wangwei2 E005 市场部, 孙悦 sunyue E007, Alice Chen alice E008 (en)."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, select, update

from core.models import AllowanceUse, Award, Employee, OutboxMessage
from tests.e2e.conftest import WeComBot


async def _said(bot: WeComBot, user: str, text: str) -> str:
    before = len(bot.sent_to(user))
    assert await bot.say(user, text) == 200
    await bot.flush()
    return json.dumps(bot.sent_to(user)[before:], ensure_ascii=False)


def _cards(bot: WeComBot, user: str) -> list[dict[str, Any]]:
    return [m for m in bot.sent_to(user) if m["msgtype"] == "template_card"]


def _button(card: dict[str, Any], prefix: str) -> str:
    keys = [b["key"] for b in card["template_card"].get("button_list", [])]
    return next(k for k in keys if k.startswith(prefix))


async def _set(bot: WeComBot, employee_id: str, **values: str) -> None:
    async with bot.db.uow() as s:
        await s.execute(update(Employee).where(Employee.employee_id == employee_id).values(**values))


async def _count(bot: WeComBot, model: type[Award]) -> int:
    async with bot.db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _pushed_kinds(bot: WeComBot, employee_id: str, after: int) -> set[str]:
    async with bot.db.uow() as s:
        return set(await s.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.recipient == f"employee:{employee_id}", OutboxMessage.id > after)))


async def _last_outbox_id(bot: WeComBot) -> int:
    async with bot.db.uow() as s:
        return int(await s.scalar(select(func.max(OutboxMessage.id))) or 0)


async def test_a_bad_report_month_is_refused_in_the_users_language(wecom: WeComBot) -> None:
    zh = await _said(wecom, "linfang", "报表 2026-13")
    assert "「2026-13」不是月份，请写成 YYYY-MM，例如 2026-03。" in zh
    assert "is not" not in zh and "输入有误" not in zh
    en = await _said(wecom, "linfang", "report 2026-13")
    assert "'2026-13' is not a month (YYYY-MM), e.g. 2026-03." in en


async def test_hr_without_a_reason_is_told_in_chinese(wecom: WeComBot) -> None:
    said = await _said(wecom, "linfang", "扣除 @E004 50")
    assert "请写上原因。" in said and "reason" not in said
    assert "A reason is required." in await _said(wecom, "linfang", "deduct @E004 50")


async def test_a_message_over_the_limit_is_refused_with_the_limit(wecom: WeComBot) -> None:
    awards = await _count(wecom, Award)
    text = "赞 @E007 10分 " + "谢谢你一直以来的帮助" * 200
    said = await _said(wecom, "wangwei", text)
    assert f"消息太长：最多 2,000 个字（这条 {len(text):,} 个），没有执行" in said
    assert await _count(wecom, Award) == awards  # no effect
    assert "Nothing was done" in await _said(wecom, "alice", "x" * 2001)


async def test_the_award_card_names_the_givers_department_when_names_are_shared(
    wecom: WeComBot,
) -> None:
    # the demo's 60 from 王伟 that waits for approval is dated the day before: in this month's
    # allowance on every day but the first. Count it in an earlier month so the 60 below fits
    # whatever the date.
    async with wecom.db.uow() as s:
        await s.execute(update(AllowanceUse).where(AllowanceUse.giver_id == "E004")
                        .values(month="2000-01"))
    await _said(wecom, "wangwei", "赞 @E007 10分 谢谢市场部的支持")  # 王伟 E004 has a namesake
    await _said(wecom, "liuyang", "赞 @E007 10分 谢谢你的方案")      # 刘洋 has none
    told = wecom.texts_to("sunyue")
    assert "王伟（研发部） 给你点了赞：谢谢市场部的支持" in told
    assert "刘洋 给你点了赞" in told and "刘洋（" not in told
    award = re.search(r"\+1 (Z\d+)", await _said(wecom, "wangwei", "赞 @E009 5分 谢谢你的帮助"))
    assert award is not None  # the reply names the award: take it back within the undo window
    await _said(wecom, "wangwei", f"撤回 {award.group(1)}")
    assert "王伟（研发部） 撤回了给你的 5 分" in wecom.texts_to("zhoujie")
    await _said(wecom, "wangwei", "赞 @E006 60分 一起排查了线上故障")  # 赵磊 decides
    assert "王伟（研发部）" in wecom.texts_to("zhaolei")          # the approval card, pushed
    assert "王伟（研发部）" in await _said(wecom, "zhaolei", "审批")  # and listed


async def test_a_redemption_is_confirmed_once(wecom: WeComBot) -> None:
    start = await _last_outbox_id(wecom)
    await _said(wecom, "liuyang", "兑换 BAG01")
    confirm = _button(_cards(wecom, "liuyang")[-1], "cr:")
    before = len(wecom.sent_to("liuyang"))
    await wecom.click("liuyang", confirm)
    await wecom.flush()
    after = wecom.sent_to("liuyang")[before:]
    assert len(after) == 1, after  # the reply; no push repeating it
    said = json.dumps(after, ensure_ascii=False)
    order_no = re.search(r"O[0-9A-Z]{4,}", said)
    assert order_no is not None and "待发货" in said
    assert order_no.group(0) in wecom.texts_to("linfang")  # HR is still told
    cancelled = await _said(wecom, "liuyang", f"取消订单 {order_no.group(0)}")
    assert cancelled.count(order_no.group(0)) == 1 and "已取消" in cancelled
    code_before = len(wecom.sent_to("liuyang"))
    await _said(wecom, "liuyang", "兑换 COFFEE")
    await wecom.click("liuyang", _button(_cards(wecom, "liuyang")[-1], "cr:"))
    await wecom.flush()
    assert len(wecom.sent_to("liuyang")[code_before:]) == 2  # the confirm card, then the order
    assert not await _pushed_kinds(wecom, "E006", start) & {
        "order_placed", "order_fulfilled", "order_cancelled"}


async def test_every_copy_of_a_decided_card_is_in_its_readers_language(wecom: WeComBot) -> None:
    await _set(wecom, "E008", roles="hr")  # Alice (en) and 林芳 (zh) both decide appeals
    deducted = await _said(wecom, "linfang", "扣除 @E004 10 迟到")
    assert "扣除完成" in deducted
    hint = re.search(r"申诉 (T\d+)", wecom.texts_to("wangwei"))
    assert hint is not None
    await _said(wecom, "wangwei", f"申诉 {hint.group(1)} 那天请过假")
    approval = _button(_cards(wecom, "alice")[-1], "ap:").split(":")[1]
    assert _button(_cards(wecom, "linfang")[-1], "ap:").split(":")[1] == approval
    await _said(wecom, "linfang", f"同意 {approval}")  # typed: every copy is updated
    updates = {c.json["userids"][0]: json.dumps(c.json["template_card"], ensure_ascii=False)
               for c in wecom.api.calls("message/update_template_card") if c.json}
    assert "approved" in updates["alice"] and "已同意" not in updates["alice"]
    assert "已同意" in updates["linfang"]
