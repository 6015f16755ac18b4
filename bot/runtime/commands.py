"""Chat command parser for every row of SPEC section 2, Chinese and English.

A message is parsed once into a typed command — one small frozen dataclass per intent — and a
button click becomes the same typed command (``bot.runtime.dispatcher.action_command``), so
handlers take exactly the fields they use. Text is NFKC-normalised first, which folds
full-width letters, digits, ＠＃ and the ideographic space into their ASCII forms. The language
of the reply is the language of the keyword used.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.runtime.numerals import UNIT_WORD, parse_amount, split_glued
from cards.texts import Locale

# keyword -> (intent, lang); longest keywords are tried first so 我的积分 wins over 积分
KEYWORDS: dict[str, tuple[str, Locale]] = {
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
# The keywords a message can start with, by its first character, longest first (a scan of all
# of them was ~35 string comparisons per message)
_BY_FIRST: dict[str, list[str]] = {}
for _kw in sorted(KEYWORDS, key=len, reverse=True):
    _BY_FIRST.setdefault(_kw[0], []).append(_kw)
BOARDS = {"点赞": "givers", "givers": "givers", "价值观": "values", "values": "values"}
PERIODS = {"本月": "month", "本季": "quarter", "本季度": "quarter", "今年": "year", "本年": "year",
           "上月": "last_month", "上个月": "last_month",
           "month": "month", "this month": "month", "quarter": "quarter", "this quarter": "quarter",
           "year": "year", "this year": "year", "last month": "last_month"}
_HASHTAG = re.compile(r"#([^\s#]+)")
# The longest chat message acted upon, in characters: a broadcast body (2,000) fits with its
# keyword only just, and WeCom/DingTalk text messages are about that size too. Longer ones are
# refused with this number, never cut (a cut reason or broadcast would say something else).
MAX_MESSAGE = 2000


@dataclass(frozen=True, kw_only=True)
class Command:
    """What one message or click asks for; ``lang`` is the language to answer in."""

    lang: Locale


@dataclass(frozen=True, kw_only=True)
class Balance(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class History(Command):
    n: int = 10


@dataclass(frozen=True, kw_only=True)
class Leaderboard(Command):
    board: str = "receivers"  # receivers | givers (排行 点赞) | values (排行 价值观)
    period: str = "month"
    department: str | None = None


@dataclass(frozen=True, kw_only=True)
class Help(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Console(Command):
    """后台 / admin: a sign-in link to the HR console."""


@dataclass(frozen=True, kw_only=True)
class Empty(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Unknown(Command):
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class TooLong(Command):
    """A message over MAX_MESSAGE characters: refused whole, never cut and then obeyed."""

    length: int
    keyword: bool = False  # it starts with a command word (so ``lang`` is that word's)


@dataclass(frozen=True, kw_only=True)
class Usage(Command):
    """A known keyword with arguments that do not fit: answered with its usage line."""

    intent: str


@dataclass(frozen=True, kw_only=True)
class _ToPeople(Command):
    who: tuple[str, ...]
    amount: int
    reason: str
    hashtags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Give(_ToPeople):
    pass


@dataclass(frozen=True, kw_only=True)
class Grant(_ToPeople):
    pass


@dataclass(frozen=True, kw_only=True)
class Deduct(_ToPeople):
    pass


@dataclass(frozen=True, kw_only=True)
class Apply(Command):
    amount: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Catalog(Command):
    category: str | None = None


@dataclass(frozen=True, kw_only=True)
class Redeem(Command):
    sku: str
    qty: int = 1


@dataclass(frozen=True, kw_only=True)
class Confirm(Command):
    code: str


@dataclass(frozen=True, kw_only=True)
class Cancel(Command):
    """取消 / 取消订单 with an order number or a pending confirmation's code."""

    target: str


@dataclass(frozen=True, kw_only=True)
class CancelConfirmation(Command):
    """The 取消 button of a confirmation card: always a code."""

    code: str


@dataclass(frozen=True, kw_only=True)
class Orders(Command):
    """订单: my orders; 订单 待发货 / orders open: HR's desk of orders waiting for a person."""

    open_desk: bool = False


@dataclass(frozen=True, kw_only=True)
class Approvals(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Decide(Command):
    """同意 / 拒绝 or a card button; ``step`` comes only from a button (the step it showed)."""

    approve: bool
    approval_id: str
    note: str = ""
    step: int | None = None


@dataclass(frozen=True, kw_only=True)
class Fulfil(Command):
    order_no: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Broadcast(Command):
    target: str | None
    text: str


@dataclass(frozen=True, kw_only=True)
class Report(Command):
    month: str | None = None


@dataclass(frozen=True, kw_only=True)
class Join(Command):
    """+1 / 我也赞 (or the +1 button of an award card in a group)."""

    award_id: str
    amount: int | None = None


@dataclass(frozen=True, kw_only=True)
class Undo(Command):
    award_id: str


@dataclass(frozen=True, kw_only=True)
class Revoke(Command):
    award_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Appeal(Command):
    subject: str  # T12 (a deduction), Z12 (an award) or A12 (an approval)
    reason: str = ""


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("？", "?")
    return re.sub(r"\s+", " ", text).strip()


def _split_keyword(text: str) -> tuple[str, Locale, str] | None:
    lowered = text.lower()
    for kw in _BY_FIRST.get(lowered[:1], ()):
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
    """Parse one chat message into its typed command; never raises."""
    if len(text) > MAX_MESSAGE:  # answered in the language of its keyword, if it starts with one
        found = _split_keyword(normalize(text[:40]))
        return TooLong(lang=found[1] if found else _script(text[:MAX_MESSAGE]), length=len(text),
                       keyword=found is not None)
    clean = normalize(text)
    if not clean:
        return Empty(lang="zh")
    found = _split_keyword(clean)
    if found is None:
        return Unknown(lang=_script(clean), text=clean)
    intent, lang, rest = found
    command = _SHAPERS[intent](intent, lang, rest)
    return command if command is not None else Usage(lang=lang, intent=intent)


def _script(text: str) -> Locale:
    """zh when the text has Chinese characters, else en (for messages without a keyword)."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


Shaper = Callable[[str, Locale, str], Command | None]


# names in <who…> may be separated by commas or 、 as well as spaces: "@吴敏，@周杰" (NFKC
# turns the full-width comma into ",")
_NAME_SEPARATORS = re.compile(r"[,、;]")


def _to_people(intent: str, lang: Locale, rest: str) -> Command | None:
    tokens = rest.replace("@", " @").split()
    for i, tok in enumerate(tokens[1:], start=1):
        amount, reason = _amount_and_reason(tok, tokens[i + 1:])
        if amount is None:
            continue
        who = _names(tokens[:i])
        if not who:
            return None
        kind = {"give": Give, "grant": Grant, "deduct": Deduct}[intent]
        return kind(lang=lang, who=tuple(who), amount=amount, reason=reason,
                    hashtags=tuple(_HASHTAG.findall(reason)))
    return None


def _amount_and_reason(token: str, after: list[str]) -> tuple[int | None, str]:
    """The amount a token stands for and the reason after it, without the unit people type
    ("10 分 谢谢", "10 积分 谢谢", "10分谢谢")."""
    amount = parse_amount(token)
    if amount is not None:
        if after and UNIT_WORD.match(after[0]):
            after = after[1:]
        return amount, " ".join(after)
    glued = split_glued(token)
    if glued is not None:
        return glued[0], " ".join([glued[1], *after])
    return None, ""


def _names(tokens: list[str]) -> list[str]:
    """The <who…> names. A Latin word after a Latin @name continues it ("@Alice Chen"); a
    separator always starts a new name."""
    who: list[str] = []
    joinable = False  # may the next part continue the last name?
    for tok in tokens:
        for n, part in enumerate(_NAME_SEPARATORS.split(tok)):
            joinable = joinable and n == 0
            if not part or part == "@":
                continue
            if joinable and _continues(who[-1], part):
                who[-1] = f"{who[-1]} {part}"
            else:
                who.append(part)
            joinable = True
    return who


def _latin_word(text: str) -> bool:
    return text.isascii() and text.isalpha()


def _continues(name: str, word: str) -> bool:
    return (name.startswith("@") and _latin_word(name[1:].replace(" ", "")) and _latin_word(word))


def _apply(intent: str, lang: Locale, rest: str) -> Command | None:
    first, _, reason = rest.partition(" ")
    amount = parse_amount(first)
    return None if amount is None else Apply(lang=lang, amount=amount, reason=reason.strip())


def _history(intent: str, lang: Locale, rest: str) -> Command | None:
    if not rest:
        return History(lang=lang)
    n = parse_amount(rest)
    return History(lang=lang, n=min(n, 50)) if n else None


def _redeem(intent: str, lang: Locale, rest: str) -> Command | None:
    parts = rest.split()
    if not parts or len(parts) > 2:
        return None
    qty = parse_amount(parts[1]) if len(parts) == 2 else 1
    return None if qty is None else Redeem(lang=lang, sku=parts[0].upper(), qty=qty)


def _target(intent: str, lang: Locale, rest: str) -> Command | None:
    target, _, note = rest.partition(" ")
    if not target:
        return None
    target, note = target.upper(), note.strip()
    if intent == "confirm":
        return Confirm(lang=lang, code=target)
    if intent == "cancel":
        return Cancel(lang=lang, target=target)
    if intent == "fulfill":
        return Fulfil(lang=lang, order_no=target, note=note)
    return Decide(lang=lang, approve=intent == "approve", approval_id=target, note=note)


def _leaderboard(intent: str, lang: Locale, rest: str) -> Command | None:
    parts = rest.split()
    board = "receivers"
    if parts and parts[0].lower() in BOARDS:
        board = BOARDS[parts.pop(0).lower()]
    period = "month"
    for words in (2, 1):  # "last month" before "month"
        head = " ".join(parts[:words]).lower()
        if len(parts) >= words and head in PERIODS:
            period, parts = PERIODS[head], parts[words:]
            break
    return Leaderboard(lang=lang, board=board, period=period, department=" ".join(parts) or None)


def _join(intent: str, lang: Locale, rest: str) -> Command | None:
    """``Z12 [N]``: the award and an optional amount."""
    parts = rest.split()
    if not parts or len(parts) > 2:
        return None
    amount = parse_amount(parts[1].removesuffix("分")) if len(parts) == 2 else None
    if len(parts) == 2 and amount is None:
        return None
    return Join(lang=lang, award_id=parts[0].upper(), amount=amount)


def _recognition(intent: str, lang: Locale, rest: str) -> Command | None:
    """``<id> [reason]`` for 撤回 / 撤销 / 申诉; 撤销 needs a reason, 申诉's the core checks."""
    target, _, reason = rest.partition(" ")
    target, reason = target.upper(), reason.strip()
    if not target or (intent == "revoke" and not reason):
        return None
    if intent == "undo":
        return Undo(lang=lang, award_id=target)
    if intent == "revoke":
        return Revoke(lang=lang, award_id=target, reason=reason)
    return Appeal(lang=lang, subject=target, reason=reason)


def _broadcast(intent: str, lang: Locale, rest: str) -> Command | None:
    target = None
    if rest.startswith("@"):
        first, _, rest = rest.partition(" ")
        target = first[1:]
    return Broadcast(lang=lang, target=target, text=rest.strip()) if rest.strip() else None


def _report(intent: str, lang: Locale, rest: str) -> Command | None:
    if not rest:
        return Report(lang=lang)
    return Report(lang=lang, month=rest) if re.fullmatch(r"\d{4}-\d{2}", rest) else None


OPEN_WORDS = frozenset({"待发货", "待处理", "open"})


def _orders(intent: str, lang: Locale, rest: str) -> Command | None:
    if not rest:
        return Orders(lang=lang)
    return Orders(lang=lang, open_desk=True) if rest.lower() in OPEN_WORDS else None


def _catalog(intent: str, lang: Locale, rest: str) -> Command | None:
    return Catalog(lang=lang, category=rest or None)


def _bare(kind: type[Command]) -> Shaper:
    return lambda intent, lang, rest: kind(lang=lang)


_SHAPERS: dict[str, Shaper] = {
    "balance": _bare(Balance), "orders": _orders, "approvals": _bare(Approvals),
    "help": _bare(Help), "console": _bare(Console), "give": _to_people, "grant": _to_people, "deduct": _to_people,
    "apply": _apply, "history": _history, "redeem": _redeem, "confirm": _target,
    "cancel": _target, "approve": _target, "reject": _target, "fulfill": _target,
    "leaderboard": _leaderboard, "broadcast": _broadcast, "report": _report, "catalog": _catalog,
    "join": _join, "undo": _recognition, "revoke": _recognition, "appeal": _recognition,
}
