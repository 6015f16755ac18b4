"""How people type, end to end through encrypted WeCom callbacks (issue: chat that understands
how people type). Demo: 王伟 E004 研发部 and 王伟 E005 市场部, 孙悦 E007, Alice Chen E008 (en),
周杰 E009, 吴敏 E010, 刘洋 E006."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.models import Award, CatalogItem
from tests.e2e.conftest import WeComBot


async def _said(bot: WeComBot, user: str, text: str) -> str:
    before = len(bot.sent_to(user))
    assert await bot.say(user, text) == 200
    await bot.flush()
    return json.dumps(bot.sent_to(user)[before:], ensure_ascii=False)


async def _reasons(bot: WeComBot) -> dict[str, list[str]]:
    async with bot.db.uow() as s:
        rows = (await s.execute(select(Award.recipient_id, Award.reason))).all()
    found: dict[str, list[str]] = {}
    for who, reason in rows:
        found.setdefault(who, []).append(reason)
    return found


async def test_units_separators_and_names_as_people_type_them(wecom: WeComBot) -> None:
    assert "周杰 收到 10 分" in await _said(wecom, "wangwei", "赞 @E009 10 分 谢谢帮我review代码")
    assert "孙悦 收到 10 分" in await _said(wecom, "wangwei", "赞 @E007 10分谢谢帮忙啊")
    assert "吴敏 收到 10 分" in await _said(wecom, "wangwei", "给 @E010 10积分 谢谢帮忙啊")
    both = await _said(wecom, "zhaolei", "赞 @吴敏，@周杰 5分 一起加班辛苦")
    assert "吴敏 收到 5 分" in both and "周杰 收到 5 分" in both
    both = await _said(wecom, "liuyang", "赞 @吴敏、@周杰 5分 一起加班辛苦")
    assert "吴敏 收到 5 分" in both and "周杰 收到 5 分" in both
    assert "Alice Chen 收到 5 分" in await _said(wecom, "sunyue", "赞 @Alice Chen 5分 谢谢帮忙")
    assert "Alice Chen received 10" in await _said(wecom, "zhoujie", "give @Alice 10 thanks a lot")
    reasons = await _reasons(wecom)
    assert "谢谢帮我review代码" in reasons["E009"]
    assert "谢谢帮忙啊" in reasons["E007"] and "谢谢帮忙啊" in reasons["E010"]
    assert "thanks a lot" in reasons["E008"]
    assert not any(r.startswith(("分", "积分")) for rs in reasons.values() for r in rs)


async def test_the_sender_is_never_one_of_the_namesakes(wecom: WeComBot) -> None:
    # 王伟 E004 cannot mean himself: @王伟 is the other 王伟
    assert "王伟 收到 5 分" in await _said(wecom, "wangwei", "赞 @王伟 5分 谢谢市场部支持")
    assert (await _reasons(wecom))["E005"] == ["谢谢市场部支持"]
    listed = await _said(wecom, "liuyang", "赞 @王伟 5分 重名测试一下")
    assert "有多位同事叫 王伟" in listed and "E004" in listed and "E005" in listed


async def test_leaderboard_periods_and_unknown_words(wecom: WeComBot) -> None:
    assert "上月排行榜" in await _said(wecom, "wangwei", "排行 上月")
    assert "Leaderboard, last month" in await _said(wecom, "wangwei", "leaderboard last month")
    unknown = await _said(wecom, "wangwei", "排行 下月")
    assert "没有「下月」这个时间段或部门" in unknown and "研发部" in unknown
    assert "研发部" in await _said(wecom, "wangwei", "排行 本月 研发部")


async def test_emoji_or_unknown_from_a_zh_employee_is_answered_in_chinese(wecom: WeComBot) -> None:
    assert "没看懂" in await _said(wecom, "wangwei", "👍👍")
    assert "没看懂" in await _said(wecom, "wangwei", "abracadabra")
    assert "did not understand" in await _said(wecom, "alice", "🙂")


async def test_award_to_approval_says_submitted_and_the_decision_says_what(wecom: WeComBot) -> None:
    said = await _said(wecom, "liuyang", "赞 @E004 60分 帮忙排查线上故障")
    assert "已提交审批" in said and "点赞成功" not in said
    card = next(m for m in wecom.sent_to("zhaolei") if m["msgtype"] == "template_card")
    approve = next(b for b in card["template_card"]["button_list"] if b["key"].startswith("ap:"))
    before = len(wecom.sent_to("liuyang"))
    await wecom.click("zhaolei", approve["key"], task_id=card["template_card"]["task_id"])
    await wecom.flush()
    decided = json.dumps(wecom.sent_to("liuyang")[before:], ensure_ascii=False)
    assert "@王伟 帮忙排查线上故障" in decided and "60 分" in decided
    assert decided.count("赵磊") == 1  # the approver is named once


async def test_redeem_quantity_out_of_range_says_so(wecom: WeComBot) -> None:
    for qty in ("0", "100"):
        said = await _said(wecom, "liuyang", f"兑换 CUP01 {qty}")
        assert f"数量必须是 1 到 20 之间的整数（你写的是 {qty}）" in said, said


async def test_catalog_unknown_category_and_sold_out(wecom: WeComBot) -> None:
    unknown = await _said(wecom, "liuyang", "商城 电器")
    assert "商城没有「电器」这个分类" in unknown and "周边" in unknown and "卡券" in unknown
    async with wecom.db.uow() as s:
        item = await s.get(CatalogItem, "CUP01")
        assert item is not None
        item.stock = 0
    assert "定制马克杯  80分（已兑完）" in await _said(wecom, "liuyang", "商城 周边")


async def test_help_is_one_command_per_line(wecom: WeComBot) -> None:
    await wecom.say("wangwei", "帮助")
    await wecom.flush()
    content = wecom.sent_to("wangwei")[-1]["markdown"]["content"]
    assert content.startswith("### 可用指令：\n积分 — 余额与额度\n明细 [n] — 最近记录\n")
    assert "排行 [本月|上月|本季|今年] [部门]" in content.split("\n")


async def test_a_reason_has_a_maximum_length(wecom: WeComBot) -> None:
    said = await _said(wecom, "wangwei", "赞 @E006 5分 " + "谢" * 201)
    assert "理由最多 200 个字（现在 201 个）" in said
    assert "理由最多 200 个字" in await _said(wecom, "wangwei", "申请 30 " + "写" * 300)


async def test_expiry_reminder_states_the_real_number_of_days(wecom: WeComBot) -> None:
    from datetime import timedelta

    from bot.jobs import run_job
    from config.policy_loader import load_policy
    from core import ledger
    from core.models import utcnow
    from tests.conftest import ROOT

    async with wecom.db.uow() as s:
        expiry = (await ledger.balance(s, employee_id="E006", now=utcnow())).next_expiry_at
    assert expiry is not None
    policy = load_policy(ROOT / "config" / "policy.yaml")
    assert 30 in policy.reminders.expiry_days  # the 30-day reminder, run 25 days before
    await run_job("expiry-reminders", db=wecom.db, policy=policy, now=expiry - timedelta(days=25))
    await wecom.flush()
    said = wecom.texts_to("liuyang")
    assert "25 天后" in said and "30 天后" not in said, said


async def test_hr_hears_of_a_service_order_and_who_ordered_it(wecom: WeComBot) -> None:
    from core.models import Order

    await _said(wecom, "liuyang", "兑换 MASSAGE")
    card = [m for m in wecom.sent_to("liuyang") if m["msgtype"] == "template_card"][-1]
    confirm = next(b for b in card["template_card"]["button_list"] if b["key"].startswith("cr:"))
    await wecom.click("liuyang", confirm["key"])
    await wecom.flush()
    async with wecom.db.uow() as s:
        order = await s.scalar(select(Order).where(Order.sku == "MASSAGE"))
    assert order is not None and order.status == "placed"
    to_hr = wecom.texts_to("linfang")
    assert order.order_no in to_hr and "午间按摩" in to_hr  # a service order reaches HR too
    assert "刘洋（研发部）138****0006" in to_hr and "13800000006" not in to_hr


async def test_open_orders_for_hr_only(wecom: WeComBot) -> None:
    # the demo has a placed order of 刘洋's; 刘洋 cannot see the desk, 林芳 (HR) can
    assert "只有 HR" in await _said(wecom, "liuyang", "订单 待发货")
    desk = await _said(wecom, "linfang", "订单 待发货")
    assert "待发货订单" in desk and "刘洋（研发部）138****0006" in desk, desk
    assert "Open orders" in await _said(wecom, "linfang", "orders open")
