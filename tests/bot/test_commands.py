"""The chat command parser: every row of SPEC section 2 in Chinese and English."""

from __future__ import annotations

import pytest

from bot.runtime import commands as c
from bot.runtime.commands import parse
from bot.runtime.dispatcher import action_command
from bot.runtime.numerals import chinese_to_int, parse_amount
from cards import actions


@pytest.mark.parametrize("text,kind,lang", [
    ("积分", c.Balance, "zh"), ("余额", c.Balance, "zh"), ("我的积分", c.Balance, "zh"),
    ("balance", c.Balance, "en"), ("BAL", c.Balance, "en"), ("points", c.Balance, "en"),
    ("明细", c.History, "zh"), ("history 5", c.History, "en"),
    ("商城", c.Catalog, "zh"), ("catalog", c.Catalog, "en"), ("shop", c.Catalog, "en"),
    ("订单", c.Orders, "zh"), ("我的订单", c.Orders, "zh"), ("orders", c.Orders, "en"),
    ("审批", c.Approvals, "zh"), ("待审批", c.Approvals, "zh"), ("approvals", c.Approvals, "en"),
    ("帮助", c.Help, "zh"), ("?", c.Help, "zh"), ("？", c.Help, "zh"), ("help", c.Help, "en"),
    ("排行", c.Leaderboard, "zh"), ("leaderboard year", c.Leaderboard, "en"),
    ("报表", c.Report, "zh"), ("report 2026-03", c.Report, "en"),
])
def test_keywords(text: str, kind: type[c.Command], lang: str) -> None:
    cmd = parse(text)
    assert type(cmd) is kind and cmd.lang == lang


def test_full_width_and_extra_spaces() -> None:
    assert parse("　赞　＠张三　　１０分　感谢支持　＃团队合作 ") == c.Give(
        lang="zh", who=("@张三",), amount=10, reason="感谢支持 #团队合作", hashtags=("团队合作",))


def test_several_recipients_and_chinese_numerals() -> None:
    cmd = parse("给 @李四 E0042 王伟 二十分 周末加班辛苦")
    assert isinstance(cmd, c.Give)
    assert (cmd.who, cmd.amount) == (("@李四", "E0042", "王伟"), 20)


def test_glued_mention() -> None:
    cmd = parse("赞@张三 十 帮我review")
    assert isinstance(cmd, c.Give) and cmd.who == ("@张三",)


def test_give_without_amount_is_usage_error() -> None:
    assert parse("赞 @张三 谢谢") == c.Usage(lang="zh", intent="give")


def test_hr_commands_have_their_own_types() -> None:
    assert parse("发放 E1 100 年终奖") == c.Grant(lang="zh", who=("E1",), amount=100, reason="年终奖")
    assert parse("deduct E1 5 oops") == c.Deduct(lang="en", who=("E1",), amount=5, reason="oops")


@pytest.mark.parametrize("text,sku,qty", [
    ("兑换 cup01", "CUP01", 1), ("redeem CUP01 3", "CUP01", 3), ("兑换 CUP01 两", "CUP01", 2),
])
def test_redeem(text: str, sku: str, qty: int) -> None:
    cmd = parse(text)
    assert isinstance(cmd, c.Redeem) and (cmd.sku, cmd.qty) == (sku, qty)


def test_decisions_and_targets() -> None:
    assert parse("同意 a12") == c.Decide(lang="zh", approve=True, approval_id="A12")
    assert parse("拒绝 A12 证明材料不足") == c.Decide(lang="zh", approve=False, approval_id="A12",
                                                 note="证明材料不足")
    assert parse("reject A12") == c.Decide(lang="en", approve=False, approval_id="A12")
    assert parse("取消订单 O1001") == c.Cancel(lang="zh", target="O1001")
    assert parse("发货 O1001 顺丰 SF123") == c.Fulfil(lang="zh", order_no="O1001", note="顺丰 SF123")
    assert parse("confirm k7q2") == c.Confirm(lang="en", code="K7Q2")
    assert parse("同意") == c.Usage(lang="zh", intent="approve")


def test_a_click_becomes_the_same_command_as_its_text() -> None:
    assert action_command("ap:A12", "zh") == parse("同意 A12")
    assert action_command("ap:A12:1", "zh") == c.Decide(lang="zh", approve=True, approval_id="A12",
                                                       step=1)
    assert action_command("cr:K7Q2", "en") == parse("confirm K7Q2")
    assert action_command("ff:O1001", "zh") == parse("发货 O1001")
    assert action_command("cx:K7Q2", "zh") == c.CancelConfirmation(lang="zh", code="K7Q2")
    assert action_command("nonsense!", "zh") == c.Unknown(lang="zh")


def test_apply_leaderboard_broadcast_report() -> None:
    assert parse("申请 50 组织了技术分享") == c.Apply(lang="zh", amount=50, reason="组织了技术分享")
    assert parse("排行 本季 研发部") == c.Leaderboard(lang="zh", board="receivers", period="quarter",
                                                     department="研发部")
    assert parse("广播 @全员群 双十一限时兑换") == c.Broadcast(lang="zh", target="全员群",
                                                        text="双十一限时兑换")
    assert parse("broadcast sale today") == c.Broadcast(lang="en", target=None, text="sale today")
    assert parse("报表 2026-3") == c.Usage(lang="zh", intent="report")


def test_recognition_commands() -> None:
    """SPEC section 13: +1 / 我也赞, 撤回, 撤销, 申诉 and the two new boards, both languages."""
    assert parse("+1 z12") == c.Join(lang="zh", award_id="Z12", amount=None)
    assert parse("＋１　Ｚ１２　５") == c.Join(lang="zh", award_id="Z12", amount=5)  # full width
    assert parse("我也赞Z12 十分") == c.Join(lang="zh", award_id="Z12", amount=10)
    assert parse("+1") == c.Usage(lang="zh", intent="join")
    assert parse("+1 Z12 many") == c.Usage(lang="zh", intent="join")
    assert isinstance(parse("+12"), c.Unknown)  # "+1" needs a word boundary
    assert parse("撤回 Z3") == c.Undo(lang="zh", award_id="Z3")
    assert parse("undo z3") == c.Undo(lang="en", award_id="Z3")
    assert parse("撤销 Z3 重复发放") == c.Revoke(lang="zh", award_id="Z3", reason="重复发放")
    assert parse("revoke Z3 duplicate") == c.Revoke(lang="en", award_id="Z3", reason="duplicate")
    assert parse("撤销 Z3") == c.Usage(lang="zh", intent="revoke")  # a revoke needs its reason
    assert parse("申诉 T5 当天出差") == c.Appeal(lang="zh", subject="T5", reason="当天出差")
    assert parse("appeal a7 wrong") == c.Appeal(lang="en", subject="A7", reason="wrong")
    assert parse("申诉") == c.Usage(lang="zh", intent="appeal")
    assert parse("排行 点赞 本季 研发部") == c.Leaderboard(lang="zh", board="givers",
                                                     period="quarter", department="研发部")
    assert parse("leaderboard values year") == c.Leaderboard(lang="en", board="values",
                                                             period="year")


def test_the_plus_one_button_is_a_join() -> None:
    action = actions.JoinAward(award_id="Z12").pack()
    assert action_command(action, "en") == c.Join(lang="en", award_id="Z12")


def test_unknown_and_empty() -> None:
    assert isinstance(parse("今天天气不错"), c.Unknown)
    assert parse("hello there").lang == "en"
    assert isinstance(parse("   "), c.Empty)
    assert isinstance(parse("balanced"), c.Unknown)  # English keywords need a word boundary


@pytest.mark.parametrize("text,value", [
    ("十", 10), ("二十", 20), ("一百五十", 150), ("两百", 200), ("十五", 15), ("一百零五", 105),
    ("一万二千", 12000),
])
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


def test_amount_tokens() -> None:
    assert parse_amount("10分") == 10 and parse_amount("五十分") == 50
    assert parse_amount("-5") is None and parse_amount("1.5") is None and parse_amount("abc") is None


# How people type (issue: the unit never stays in the reason; names separated every way)
@pytest.mark.parametrize("text,who,amount,reason", [
    ("赞 @E004 10 分 谢谢帮我review代码", ("@E004",), 10, "谢谢帮我review代码"),
    ("给 @E009 10 积分 谢谢帮忙啊", ("@E009",), 10, "谢谢帮忙啊"),
    ("赞 @E007 10分谢谢帮忙啊", ("@E007",), 10, "谢谢帮忙啊"),
    ("给 @E009 10积分 谢谢帮忙啊", ("@E009",), 10, "谢谢帮忙啊"),
    ("give @E006 5 points for the demo", ("@E006",), 5, "for the demo"),
    ("赞 @吴敏，@周杰 5分 一起加班辛苦", ("@吴敏", "@周杰"), 5, "一起加班辛苦"),
    ("赞 @吴敏、@周杰 5分 一起加班辛苦", ("@吴敏", "@周杰"), 5, "一起加班辛苦"),
    ("赞 @吴敏,@周杰 5分 一起加班辛苦", ("@吴敏", "@周杰"), 5, "一起加班辛苦"),
    ("赞 @吴敏 , 周杰 5分 一起加班辛苦", ("@吴敏", "周杰"), 5, "一起加班辛苦"),
    ("赞 @Alice Chen 5分 谢谢帮忙", ("@Alice Chen",), 5, "谢谢帮忙"),
    ("give @Alice 10 thanks", ("@Alice",), 10, "thanks"),
    ("give @Alice, Bob 10 thanks", ("@Alice", "Bob"), 10, "thanks"),
])
def test_how_people_type_awards(text: str, who: tuple[str, ...], amount: int, reason: str) -> None:
    cmd = parse(text)
    assert isinstance(cmd, c.Give), cmd
    assert (cmd.who, cmd.amount, cmd.reason) == (who, amount, reason)


def test_ten_fen_glued_to_chinese_is_not_an_amount() -> None:
    # 十分感谢 is "many thanks": only digits glued to a unit start a reason
    assert parse("赞 @张三 十分感谢") == c.Usage(lang="zh", intent="give")


@pytest.mark.parametrize("text,period,department", [
    ("排行 上月", "last_month", None), ("排行 上个月 研发部", "last_month", "研发部"),
    ("leaderboard last month", "last_month", None), ("leaderboard month", "month", None),
    ("排行 下月", "month", "下月"),  # not a period: the handler says so
])
def test_leaderboard_periods(text: str, period: str, department: str | None) -> None:
    assert parse(text) == c.Leaderboard(lang=parse(text).lang, period=period, department=department)


def test_orders_open_desk() -> None:
    assert parse("订单 待发货") == c.Orders(lang="zh", open_desk=True)
    assert parse("orders open") == c.Orders(lang="en", open_desk=True)
    assert parse("订单") == c.Orders(lang="zh")
    assert parse("订单 乱写") == c.Usage(lang="zh", intent="orders")
