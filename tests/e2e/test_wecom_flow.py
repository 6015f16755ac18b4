"""End to end through encrypted WeCom callbacks, the dispatcher, the outbox and the fake API.

Demo directory: 王伟 E004 (wangwei) reports to 赵磊 E003 (zhaolei); 刘洋 E006 (liuyang);
林芳 E002 (linfang) is HR; everyone starts with 500 points.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from core import ledger
from core.ledger.verify import verify
from core.models import IdempotencyKey, LedgerTransaction, Order, OutboxMessage, utcnow
from tests.e2e.conftest import WeComBot
from tests.fakes.wecom_server import text_xml


async def _balance(bot: WeComBot, employee_id: str) -> int:
    async with bot.db.uow() as s:
        return (await ledger.balance(s, employee_id=employee_id, now=utcnow())).balance


async def _verify(bot: WeComBot) -> None:
    async with bot.db.uow() as s:
        assert await verify(s) == []


def _card_buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return list(msg.get("template_card", {}).get("button_list", []))


async def test_balance_reply_goes_out_through_message_send(wecom: WeComBot) -> None:
    assert await wecom.say("wangwei", "积分") == 200
    await wecom.flush()
    sent = wecom.sent_to("wangwei")
    assert len(sent) == 1
    assert "余额" in json.dumps(sent[0], ensure_ascii=False)
    assert sent[0]["agentid"] == 1000002


async def test_english_command_gets_english_reply(wecom: WeComBot) -> None:
    await wecom.say("wangwei", "balance")
    await wecom.flush()
    assert "Balance" in json.dumps(wecom.sent_to("wangwei"), ensure_ascii=False)


async def test_award_above_threshold_approval_by_button(wecom: WeComBot) -> None:
    before = await _balance(wecom, "E004")
    await wecom.say("liuyang", "赞 @E004 60分 帮忙排查线上故障")
    await wecom.flush()
    cards = [m for m in wecom.sent_to("zhaolei") if m["msgtype"] == "template_card"]
    assert len(cards) == 1, wecom.texts_to("liuyang")
    approve = next(b for b in _card_buttons(cards[0]) if b["key"].startswith("ap:"))
    task_id = cards[0]["template_card"]["task_id"]
    assert await _balance(wecom, "E004") == before  # nothing until the manager decides

    await wecom.click("zhaolei", approve["key"], task_id=task_id, response_code="RC-9")
    await wecom.flush()
    assert await _balance(wecom, "E004") == before + 60
    updates = wecom.api.calls("message/update_template_card")
    assert len(updates) == 1 and updates[0].json["response_code"] == "RC-9"  # type: ignore[index]
    assert "60" in wecom.texts_to("wangwei")  # the recipient is told

    await wecom.click("zhaolei", approve["key"], task_id=task_id, response_code="RC-10")
    await wecom.flush()
    assert await _balance(wecom, "E004") == before + 60  # a second click changes nothing
    assert "已由 赵磊 处理" in wecom.texts_to("zhaolei")
    await _verify(wecom)


async def test_redeem_confirm_then_order(wecom: WeComBot) -> None:
    await wecom.say("liuyang", "兑换 BAG01")
    await wecom.flush()
    card = [m for m in wecom.sent_to("liuyang") if m["msgtype"] == "template_card"][-1]
    confirm = next(b for b in _card_buttons(card) if b["key"].startswith("cr:"))
    await wecom.click("liuyang", confirm["key"])
    await wecom.flush()
    async with wecom.db.uow() as s:
        orders = list(await s.scalars(select(Order).where(Order.sku == "BAG01")))
    assert len(orders) == 1 and orders[0].status == "placed"
    assert orders[0].order_no in wecom.texts_to("liuyang")
    assert orders[0].order_no in wecom.texts_to("linfang")  # HR hears of new physical orders
    await _verify(wecom)


async def test_out_of_stock_and_insufficient_balance_refused(wecom: WeComBot) -> None:
    await wecom.say("liuyang", "兑换 JD100")  # 1000 points, balance about 500
    await wecom.say("liuyang", "兑换 GYM01 9")  # only 5 in stock
    await wecom.flush()
    text = wecom.texts_to("liuyang")
    assert "积分不足" in text and "库存不足" in text
    await _verify(wecom)


async def test_same_message_three_times_one_effect(wecom: WeComBot) -> None:
    before = await _balance(wecom, "E006")
    for _ in range(3):
        assert await wecom.say("wangwei", "赞 @刘洋 10分 谢谢你的帮助", msg_id="dup-1") == 200
    await wecom.flush()
    assert await _balance(wecom, "E006") == before + 10
    assert len(wecom.sent_to("wangwei")) == 1  # one reply, not three
    await _verify(wecom)


async def _rows(bot: WeComBot) -> tuple[int, ...]:
    async with bot.db.uow() as s:
        return tuple([await s.scalar(select(func.count()).select_from(m)) or 0
                      for m in (IdempotencyKey, LedgerTransaction, OutboxMessage)])


async def test_bad_signature_refused_and_nothing_changes(wecom: WeComBot) -> None:
    before = await _rows(wecom)
    req = wecom.sender.message(text_xml(user="linfang", content="发放 @刘洋 999 作弊"))
    query = dict(req.query, msg_signature="0" * 40)
    resp = await wecom.client.post("/wecom/callback", params=query, data=req.body)
    assert resp.status == 403
    garbage = await wecom.client.post(f"/wecom/callback?{req.query_string}", data=b"<xml><Encrypt>")
    assert garbage.status == 400
    assert await _rows(wecom) == before
    assert await wecom.say("wangwei", "积分") == 200  # still serving


async def test_unknown_user_is_told_not_enrolled(wecom: WeComBot) -> None:
    await wecom.say("stranger", "积分")
    await wecom.flush()
    assert "没有加入积分系统" in wecom.texts_to("stranger")


async def test_hr_commands_refused_for_employees(wecom: WeComBot) -> None:
    await wecom.say("wangwei", "发放 @刘洋 100 季度之星")
    await wecom.flush()
    assert "只有 HR" in wecom.texts_to("wangwei")
    await wecom.say("linfang", "发放 @刘洋 100 季度之星")
    await wecom.flush()
    assert "E006 +100" in wecom.texts_to("linfang")


async def test_outbox_retries_after_500s_and_expired_token(wecom: WeComBot) -> None:
    from bot.outbox import worker as outbox

    outbox.BASE_DELAY = 0.0  # no waiting between attempts in this test
    try:
        wecom.api.fail_next(6, status=500)  # more than the client's own retries: the outbox retries
        await wecom.say("wangwei", "积分")
        for _ in range(6):
            await wecom.flush()
        sends = len(wecom.api.calls("message/send"))
        tokens = len(wecom.api.calls("gettoken"))
        wecom.api.expire_tokens()
        await wecom.say("wangwei", "余额")
        await wecom.flush()
    finally:
        outbox.BASE_DELAY = 2.0
    assert sends > 6 and len(wecom.sent_to("wangwei")) == sends + 2  # 42001, then the retry
    assert len(wecom.api.calls("gettoken")) == tokens + 1  # refreshed once after 42001
    async with wecom.db.uow() as s:
        statuses = set(await s.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}


async def test_jobs_push_expiry_and_approval_reminders(wecom: WeComBot) -> None:
    from datetime import timedelta

    from bot.jobs import run_job
    from config.policy_loader import load_policy
    from tests.conftest import ROOT

    policy = load_policy(ROOT / "config" / "policy.yaml")
    await wecom.say("liuyang", "赞 @E004 80分 通宵处理线上故障")  # waits for 赵磊
    await wecom.flush()
    wecom.api.requests.clear()
    later = utcnow() + timedelta(hours=25)
    assert "reminded 2" in await run_job(  # this one and the demo's pending award
    "approval-reminders", db=wecom.db, policy=policy, now=later)
    await wecom.flush()
    assert "24 小时" in wecom.texts_to("zhaolei")

    # the demo's welcome points expire at the end of the 12th month: 7 days before, one reminder
    async with wecom.db.uow() as s:
        expiry = (await ledger.balance(s, employee_id="E006", now=utcnow())).next_expiry_at
    assert expiry is not None
    soon = expiry - timedelta(days=6)
    summary = await run_job("expiry-reminders", db=wecom.db, policy=policy, now=soon)
    assert summary.startswith("queued ")
    await wecom.flush()
    first = wecom.texts_to("liuyang")
    assert "去兑换" in first or "过期" in first
    await run_job("expiry-reminders", db=wecom.db, policy=policy, now=soon)  # again: no repeat
    await wecom.flush()
    assert wecom.texts_to("liuyang") == first


async def test_decision_by_text_updates_every_copy_of_the_card(wecom: WeComBot) -> None:
    await wecom.say("liuyang", "赞 @E004 70分 写了很棒的文档")
    await wecom.flush()
    card = [m for m in wecom.sent_to("zhaolei") if m["msgtype"] == "template_card"][-1]
    approve = next(b for b in _card_buttons(card) if b["key"].startswith("ap:"))
    approval_id = approve["key"].split(":")[1]  # ap:<id>:<step>
    await wecom.say("zhaolei", f"同意 {approval_id}")  # typed, not clicked
    await wecom.flush()
    updates = wecom.api.calls("message/update_template_card")
    assert len(updates) == 1
    body = updates[0].json or {}
    assert body["userids"] == ["zhaolei"] and body["response_code"].startswith("rc-")
    assert body["template_card"]["task_id"] == card["template_card"]["task_id"]


async def test_hr_broadcast_reaches_every_wecom_target(wecom: WeComBot) -> None:
    await wecom.say("linfang", "广播 双十一限时兑换：咖啡券 30 分 #福利")
    await wecom.say("linfang", "广播 @研发群 周五下午茶")
    await wecom.say("wangwei", "广播 我也想发")  # not HR
    await wecom.flush()
    hooks = wecom.api.calls("webhook/send")
    chats = wecom.api.calls("appchat/send")
    assert len(hooks) == 1 and "双十一" in str(hooks[0].json)
    assert [c.json["chatid"] for c in chats] == ["CHAT1", "CHAT1"]  # type: ignore[index]
    assert "周五下午茶" in str(chats[1].json)
    assert "只有 HR" in wecom.texts_to("wangwei")


# Every command of SPEC section 2 through the encrypted callback, with a reply that shows it
# worked (demo: 王伟 E004 has a pending award for 刘洋 waiting on 赵磊, and 刘洋 an order).
EVERY_COMMAND = [
    ("wangwei", "我的积分", "余额"), ("wangwei", "bal", "Balance"),
    ("wangwei", "明细 3", "欢迎使用积分商城"), ("wangwei", "history", "欢迎"),
    ("wangwei", "给 @刘洋 5分 周报写得清楚", "刘洋 收到 5 分"), ("wangwei", "give @E006 5 great demo", "received 5"),
    ("liuyang", "商城", "CUP01"), ("liuyang", "shop", "Catalog"), ("liuyang", "商城 卡券", "COFFEE"),
    ("liuyang", "兑换 COFFEE", "确认"), ("liuyang", "订单", "待发货"), ("liuyang", "orders", "placed"),
    ("wangwei", "申请 30 组织技术分享", "等待审批"), ("wangwei", "apply 30 wrote the runbook", "waiting"),
    ("zhaolei", "审批", "待你审批"), ("zhaolei", "approvals", "Waiting"),
    ("zhaolei", "拒绝 A1 预算不足", "已拒绝"), ("wangwei", "排行 本月", "排行榜"),
    ("wangwei", "leaderboard year", "Leaderboard"), ("wangwei", "帮助", "可用指令"),
    ("wangwei", "help", "Commands"), ("wangwei", "?", "可用指令"), ("wangwei", "abracadabra", "帮助"),
    ("linfang", "扣除 @刘洋 10 迟到", "扣除完成"), ("linfang", "deduct @E006 10 late", "Deducted"),
    ("linfang", "报表", "积分报表"), ("linfang", "report 2026-01", "Points report"),
    ("liuyang", "赞 @王伟 10分 重名测试一下", "有多位同事叫 王伟"),
]


async def test_every_command_gets_its_reply(wecom: WeComBot) -> None:
    for user, text, expected in EVERY_COMMAND:
        before = len(wecom.sent_to(user))
        await wecom.say(user, text)
        await wecom.flush()
        said = json.dumps(wecom.sent_to(user)[before:], ensure_ascii=False)
        assert expected in said, (text, said)
    async with wecom.db.uow() as s:
        order = await s.scalar(select(Order).where(Order.employee_id == "E006",
                                                   Order.status == "placed"))
    assert order is not None
    await wecom.say("linfang", f"发货 {order.order_no} 顺丰 SF1234")
    before = len(wecom.sent_to("liuyang"))
    await wecom.say("liuyang", f"取消订单 {order.order_no}")  # too late: already fulfilled
    await wecom.flush()
    assert "已发货" in wecom.texts_to("linfang").split(order.order_no, 1)[1]
    # the answer goes before the 已发货 push queued ahead of it (answers lane first)
    answer, push = wecom.sent_to("liuyang")[before:]
    assert "该订单已发货，不能取消。" in json.dumps(answer, ensure_ascii=False)
    assert "已发货" in json.dumps(push, ensure_ascii=False)
    await _verify(wecom)
