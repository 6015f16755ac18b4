"""Chat command parser for every row of SPEC section 2, Chinese and English.

Text is NFKC-normalised first, which folds full-width letters, digits, ＠＃ and the ideographic
space into their ASCII forms. The language of the reply is the language of the keyword used.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bot.runtime.numerals import parse_amount

# keyword -> (intent, lang); longest keywords are tried first so 我的积分 wins over 积分
KEYWORDS: dict[str, tuple[str, str]] = {
    "积分": ("balance", "zh"), "余额": ("balance", "zh"), "我的积分": ("balance", "zh"),
    "balance": ("balance", "en"), "bal": ("balance", "en"), "points": ("balance", "en"),
    "明细": ("history", "zh"), "history": ("history", "en"),
    "赞": ("give", "zh"), "给": ("give", "zh"), "give": ("give", "en"),
    "商城": ("catalog", "zh"), "积分商城": ("catalog", "zh"), "catalog": ("catalog", "en"), "shop": ("catalog", "en"),
    "兑换": ("redeem", "zh"), "redeem": ("redeem", "en"),
    "确认": ("confirm", "zh"), "confirm": ("confirm", "en"),
    "订单": ("orders", "zh"), "我的订单": ("orders", "zh"), "orders": ("orders", "en"),
    "取消订单": ("cancel", "zh"), "取消": ("cancel", "zh"), "cancel": ("cancel", "en"),
    "申请": ("apply", "zh"), "apply": ("apply", "en"),
    "审批": ("approvals", "zh"), "待审批": ("approvals", "zh"), "approvals": ("approvals", "en"),
    "同意": ("approve", "zh"), "approve": ("approve", "en"),
    "拒绝": ("reject", "zh"), "reject": ("reject", "en"),
    "排行": ("leaderboard", "zh"), "排行榜": ("leaderboard", "zh"),
    "leaderboard": ("leaderboard", "en"),
    "帮助": ("help", "zh"), "?": ("help", "zh"), "help": ("help", "en"),
    "发放": ("grant", "zh"), "grant": ("grant", "en"),
    "扣除": ("deduct", "zh"), "扣分": ("deduct", "zh"), "deduct": ("deduct", "en"),
    "发货": ("fulfill", "zh"), "fulfill": ("fulfill", "en"), "fulfil": ("fulfill", "en"),
    "广播": ("broadcast", "zh"), "broadcast": ("broadcast", "en"),
    "报表": ("report", "zh"), "report": ("report", "en"),
    "后台": ("console", "zh"), "admin": ("console", "en"),
    # recognition (SPEC section 13)
    "+1": ("join", "zh"), "我也赞": ("join", "zh"),
    "撤回": ("undo", "zh"), "undo": ("undo", "en"),
    "撤销": ("revoke", "zh"), "revoke": ("revoke", "en"),
    "申诉": ("appeal", "zh"), "appeal": ("appeal", "en"),
}
_BY_LENGTH = sorted(KEYWORDS, key=len, reverse=True)
BOARDS = {"点赞": "givers", "givers": "givers", "价值观": "values", "values": "values"}
PERIODS = {"本月": "month", "本季": "quarter", "本季度": "quarter", "今年": "year", "本年": "year",
           "month": "month", "quarter": "quarter", "year": "year"}
_HASHTAG = re.compile(r"#([^\s#]+)")


@dataclass(frozen=True)
class Command:
    intent: str  # one of KEYWORDS' intents, or "unknown" / "empty"
    lang: str
    rest: str = ""  # text after the keyword
    args: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # a usage problem: the handler replies with the usage line


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("？", "?")
    return re.sub(r"\s+", " ", text).strip()


def _split_keyword(text: str) -> tuple[str, str, str] | None:
    lowered = text.lower()
    for kw in _BY_LENGTH:
        if not lowered.startswith(kw):
            continue
        rest = text[len(kw):]
        ascii_kw = kw.isascii() and kw != "?"
        # English keywords need a word boundary; Chinese ones may be glued to "@" or a digit
        if rest and ascii_kw and not rest[0].isspace():
            continue
        if rest and not ascii_kw and not (rest[0].isspace() or rest[0] in "@#" or rest[0].isdigit()):
            if KEYWORDS[kw][0] not in ("give", "grant", "history", "apply", "report", "join",
                                       "undo", "revoke", "appeal"):
                continue
        intent, lang = KEYWORDS[kw]
        return intent, lang, rest.strip()
    return None


def parse(text: str) -> Command:
    """Parse one chat message into a Command; never raises."""
    clean = normalize(text)
    if not clean:
        return Command("empty", "zh")
    found = _split_keyword(clean)
    if found is None:
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in clean) else "en"
        return Command("unknown", lang, clean)
    intent, lang, rest = found
    shaper = _SHAPERS.get(intent)
    if shaper is None:
        return Command(intent, lang, rest)
    args, error = shaper(rest)
    return Command(intent, lang, rest, args, error)


def _recipients_amount_reason(rest: str) -> tuple[dict[str, object], str | None]:
    tokens = rest.replace("@", " @").split()
    who: list[str] = []
    for i, tok in enumerate(tokens):
        amount = parse_amount(tok)
        if amount is not None and who:
            reason = " ".join(tokens[i + 1:])
            tags = _HASHTAG.findall(reason)
            return {"who": who, "amount": amount, "reason": reason, "hashtags": tags}, None
        who.append(tok)
    return {"who": who}, "usage"


def _one_amount_reason(rest: str) -> tuple[dict[str, object], str | None]:
    first, _, reason = rest.partition(" ")
    amount = parse_amount(first)
    if amount is None:
        return {}, "usage"
    return {"amount": amount, "reason": reason.strip()}, None


def _optional_count(rest: str) -> tuple[dict[str, object], str | None]:
    if not rest:
        return {"n": 10}, None
    n = parse_amount(rest)
    return ({"n": min(n, 50)}, None) if n else ({}, "usage")


def _sku_qty(rest: str) -> tuple[dict[str, object], str | None]:
    parts = rest.split()
    if not parts or len(parts) > 2:
        return {}, "usage"
    qty = parse_amount(parts[1]) if len(parts) == 2 else 1
    if qty is None:
        return {}, "usage"
    return {"sku": parts[0].upper(), "qty": qty}, None


def _target(rest: str) -> tuple[dict[str, object], str | None]:
    target, _, note = rest.partition(" ")
    if not target:
        return {}, "usage"
    return {"target": target.upper(), "note": note.strip()}, None


def _leaderboard(rest: str) -> tuple[dict[str, object], str | None]:
    parts = rest.split()
    board = "receivers"
    if parts and parts[0].lower() in BOARDS:
        board = BOARDS[parts.pop(0).lower()]
    period = "month"
    if parts and parts[0].lower() in PERIODS:
        period = PERIODS[parts.pop(0).lower()]
    return {"board": board, "period": period, "department": " ".join(parts) or None}, None


def _award_amount(rest: str) -> tuple[dict[str, object], str | None]:
    """``Z12 [N]`` for +1: the award and an optional amount."""
    parts = rest.split()
    if not parts or len(parts) > 2:
        return {}, "usage"
    amount = parse_amount(parts[1].removesuffix("分")) if len(parts) == 2 else None
    if len(parts) == 2 and amount is None:
        return {}, "usage"
    return {"award_id": parts[0].upper(), "amount": amount}, None


def _id_reason(rest: str) -> tuple[dict[str, object], str | None]:
    """``<id> [reason]``: the reason may be empty here; the core decides whether it must not be."""
    target, _, reason = rest.partition(" ")
    if not target:
        return {}, "usage"
    return {"target": target.upper(), "reason": reason.strip()}, None


def _broadcast(rest: str) -> tuple[dict[str, object], str | None]:
    if not rest:
        return {}, "usage"
    target = None
    if rest.startswith("@"):
        first, _, rest = rest.partition(" ")
        target = first[1:]
    return ({"target": target, "text": rest.strip()}, None) if rest.strip() else ({}, "usage")


def _month(rest: str) -> tuple[dict[str, object], str | None]:
    if not rest:
        return {"month": None}, None
    return ({"month": rest}, None) if re.fullmatch(r"\d{4}-\d{2}", rest) else ({}, "usage")


def _free_text(rest: str) -> tuple[dict[str, object], str | None]:
    return {"category": rest or None}, None


_SHAPERS = {
    "give": _recipients_amount_reason, "grant": _recipients_amount_reason,
    "deduct": _recipients_amount_reason, "apply": _one_amount_reason, "history": _optional_count,
    "redeem": _sku_qty, "confirm": _target, "cancel": _target, "approve": _target,
    "reject": _target, "fulfill": _target, "leaderboard": _leaderboard, "broadcast": _broadcast,
    "report": _month, "catalog": _free_text,
    "join": _award_amount, "undo": _id_reason, "revoke": _id_reason, "appeal": _id_reason,
}
