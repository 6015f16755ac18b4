"""The chat command parser: every row of SPEC section 2 in Chinese and English."""

from __future__ import annotations

import pytest

from bot.runtime.commands import parse
from bot.runtime.numerals import chinese_to_int, parse_amount


@pytest.mark.parametrize("text,intent,lang", [
    ("积分", "balance", "zh"), ("余额", "balance", "zh"), ("我的积分", "balance", "zh"),
    ("balance", "balance", "en"), ("BAL", "balance", "en"), ("points", "balance", "en"),
    ("明细", "history", "zh"), ("history 5", "history", "en"),
    ("商城", "catalog", "zh"), ("catalog", "catalog", "en"), ("shop", "catalog", "en"),
    ("订单", "orders", "zh"), ("我的订单", "orders", "zh"), ("orders", "orders", "en"),
    ("审批", "approvals", "zh"), ("待审批", "approvals", "zh"), ("approvals", "approvals", "en"),
    ("帮助", "help", "zh"), ("?", "help", "zh"), ("？", "help", "zh"), ("help", "help", "en"),
    ("排行", "leaderboard", "zh"), ("leaderboard year", "leaderboard", "en"),
    ("报表", "report", "zh"), ("report 2026-03", "report", "en"),
])
def test_keywords(text: str, intent: str, lang: str) -> None:
    cmd = parse(text)
    assert (cmd.intent, cmd.lang, cmd.error) == (intent, lang, None)


def test_full_width_and_extra_spaces() -> None:
    cmd = parse("　赞　＠张三　　１０分　感谢支持　＃团队合作 ")
    assert cmd.intent == "give"
    assert cmd.args == {"who": ["@张三"], "amount": 10, "reason": "感谢支持 #团队合作",
                        "hashtags": ["团队合作"]}


def test_several_recipients_and_chinese_numerals() -> None:
    cmd = parse("给 @李四 E0042 王伟 二十分 周末加班辛苦")
    assert cmd.args["who"] == ["@李四", "E0042", "王伟"]
    assert cmd.args["amount"] == 20


def test_glued_mention() -> None:
    assert parse("赞@张三 十 帮我review").args["who"] == ["@张三"]


def test_give_without_amount_is_usage_error() -> None:
    cmd = parse("赞 @张三 谢谢")
    assert cmd.intent == "give" and cmd.error == "usage"


@pytest.mark.parametrize("text,args", [
    ("兑换 cup01", {"sku": "CUP01", "qty": 1}), ("redeem CUP01 3", {"sku": "CUP01", "qty": 3}),
    ("兑换 CUP01 两", {"sku": "CUP01", "qty": 2}),
])
def test_redeem(text: str, args: dict[str, object]) -> None:
    assert parse(text).args == args


def test_decisions_and_targets() -> None:
    assert parse("同意 a12").args == {"target": "A12", "note": ""}
    assert parse("拒绝 A12 证明材料不足").args == {"target": "A12", "note": "证明材料不足"}
    assert parse("reject A12").intent == "reject"
    assert parse("取消订单 O1001").args["target"] == "O1001"
    assert parse("发货 O1001 顺丰 SF123").args == {"target": "O1001", "note": "顺丰 SF123"}
    assert parse("confirm k7q2").args["target"] == "K7Q2"


def test_apply_leaderboard_broadcast_report() -> None:
    assert parse("申请 50 组织了技术分享").args == {"amount": 50, "reason": "组织了技术分享"}
    assert parse("排行 本季 研发部").args == {"board": "receivers", "period": "quarter",
                                         "department": "研发部"}
    assert parse("广播 @全员群 双十一限时兑换").args == {"target": "全员群", "text": "双十一限时兑换"}
    assert parse("broadcast sale today").args == {"target": None, "text": "sale today"}
    assert parse("报表 2026-3").error == "usage"


def test_recognition_commands() -> None:
    """SPEC section 13: +1 / 我也赞, 撤回, 撤销, 申诉 and the two new boards, both languages."""
    assert parse("+1 z12").args == {"award_id": "Z12", "amount": None}
    assert parse("＋１　Ｚ１２　５").args == {"award_id": "Z12", "amount": 5}  # full width
    assert parse("我也赞Z12 十分").args == {"award_id": "Z12", "amount": 10}
    assert (parse("+1").error, parse("+1 Z12 many").error) == ("usage", "usage")
    assert parse("+12").intent == "unknown"  # "+1" needs a word boundary
    assert parse("撤回 Z3").args == {"target": "Z3", "reason": ""}
    assert parse("undo z3").intent == "undo" and parse("undo z3").lang == "en"
    assert parse("撤销 Z3 重复发放").args == {"target": "Z3", "reason": "重复发放"}
    assert parse("revoke Z3 duplicate").intent == "revoke"
    assert parse("申诉 T5 当天出差").args == {"target": "T5", "reason": "当天出差"}
    assert (parse("appeal a7 wrong").intent, parse("申诉").error) == ("appeal", "usage")
    assert parse("排行 点赞 本季 研发部").args == {"board": "givers", "period": "quarter",
                                            "department": "研发部"}
    assert parse("leaderboard values year").args == {"board": "values", "period": "year",
                                                     "department": None}


def test_unknown_and_empty() -> None:
    assert parse("今天天气不错").intent == "unknown"
    assert parse("hello there").lang == "en"
    assert parse("   ").intent == "empty"
    assert parse("balanced").intent == "unknown"  # English keywords need a word boundary


@pytest.mark.parametrize("text,value", [
    ("十", 10), ("二十", 20), ("一百五十", 150), ("两百", 200), ("十五", 15), ("一百零五", 105),
    ("一万二千", 12000),
])
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


def test_amount_tokens() -> None:
    assert parse_amount("10分") == 10 and parse_amount("五十分") == 50
    assert parse_amount("-5") is None and parse_amount("1.5") is None and parse_amount("abc") is None
