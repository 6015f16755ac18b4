"""Balance, history, leaderboard, help, and the usage line of a command that did not parse."""

from __future__ import annotations

from bot.handlers.common import local_time, signed
from bot.handlers.recognition import recognition_board
from bot.runtime.commands import (
    MAX_MESSAGE,
    Balance,
    Empty,
    Help,
    History,
    Leaderboard,
    TooLong,
    Unknown,
    Usage,
)
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards import builders
from cards.texts import locale_of, t
from core import ledger
from core.awards.service import balance_and_allowance
from core.directory import service as directory
from core.reports.service import leaderboard

router = Router()
HR_INTENTS = frozenset({"grant", "deduct", "fulfill", "broadcast", "report", "revoke"})
EXAMPLES = {  # (zh, en) examples for commands whose only argument is a number or code
    "confirm": ("确认 K7Q2", "confirm K7Q2"), "cancel": ("取消订单 OK7Q2", "cancel OK7Q2"),
    "approve": ("同意 A12", "approve A12"), "reject": ("同意 A12", "approve A12"),
    "fulfill": ("发货 OK7Q2", "fulfill OK7Q2"),
}


@router.on(Balance)
async def balance(ctx: Ctx, cmd: Balance) -> None:
    bal, allowance = await balance_and_allowance(ctx.session, employee_id=ctx.me, now=ctx.now,
                                                 policy=ctx.policy)
    ctx.card(builders.balance(bal.balance, allowance.left, bal.next_expiry_amount,
                              bal.next_expiry_at, ctx.locale, tz=ctx.policy.timezone,
                              reports=allowance.reports, per_report=allowance.per_report))


@router.on(History)
async def history(ctx: Ctx, cmd: History) -> None:
    lines = await ledger.history(ctx.session, employee_id=ctx.me, limit=cmd.n)
    if not lines:
        ctx.say_key("history_empty")
        return
    ctx.say(t(ctx.lang, "history_title", n=len(lines)),
            *(f"{local_time(ctx, h.at)}  {signed(h.amount)}  {h.reason or h.kind}" for h in lines))


@router.on(Leaderboard)
async def board(ctx: Ctx, cmd: Leaderboard) -> None:
    if cmd.department and cmd.department not in await directory.departments(ctx.session):
        # "排行 下月" is neither a period nor a department: say which ones there are
        ctx.say_key("leaderboard_unknown", what=cmd.department,
                    departments="、".join(await directory.departments(ctx.session)))
        return
    if cmd.board != "receivers":
        await recognition_board(ctx, cmd.board, cmd.period, cmd.department)
        return
    rows = await leaderboard(ctx.session, period=cmd.period, department=cmd.department,
                             now=ctx.now, policy=ctx.policy)
    title = t(ctx.lang, "leaderboard_title", period=t(ctx.lang, f"period_{cmd.period}"),
              department=f" · {cmd.department}" if cmd.department else "")
    if not rows:
        ctx.say(title, t(ctx.lang, "leaderboard_empty"))
        return
    ctx.say(title, *(f"{r.rank}. {r.name}（{r.department}）{r.points}" for r in rows))


@router.on(Unknown)
async def unknown(ctx: Ctx, cmd: Unknown) -> None:
    # an emoji or a word we do not know tells nothing about the language: use the employee's
    ctx.say(t(locale_of(ctx.sender.locale), "unknown_command"))


@router.on(TooLong)
async def too_long(ctx: Ctx, cmd: TooLong) -> None:
    # refused whole, with the limit, in the language of its command word; without one, Chinese
    # text is answered in Chinese and anything else in the employee's language
    lang = cmd.lang if cmd.keyword or cmd.lang == "zh" else locale_of(ctx.sender.locale)
    ctx.say(t(lang, "message_too_long", max=f"{MAX_MESSAGE:,}", length=f"{cmd.length:,}"))


@router.on(Help, Empty)
async def show_help(ctx: Ctx, cmd: Help | Empty) -> None:
    # a heading and one command per line, not one bold paragraph in the card's title
    heading, *commands = t(ctx.lang, "help").split("\n")
    ctx.say(heading, *commands)


@router.on(Usage)
async def usage(ctx: Ctx, cmd: Usage) -> None:
    if cmd.intent in HR_INTENTS and not ctx.is_hr():  # HR commands refuse before explaining
        ctx.say_key("forbidden_hr")
        return
    if cmd.intent in EXAMPLES:
        zh, en = EXAMPLES[cmd.intent]
        ctx.say_key("usage_target", example=zh if ctx.lang == "zh" else en)
        return
    ctx.say_key(f"usage_{cmd.intent}")
