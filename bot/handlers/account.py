"""Balance, history, leaderboard and help."""

from __future__ import annotations

from bot.handlers.common import local_time, signed
from bot.handlers.recognition import recognition_board
from bot.messages import t
from bot.runtime.commands import Command
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards import builders
from core import ledger
from core.awards.service import allowance_status
from core.reports.service import leaderboard

router = Router()


@router.on("balance")
async def balance(ctx: Ctx, cmd: Command) -> None:
    bal = await ledger.balance(ctx.session, employee_id=ctx.me, now=ctx.now)
    allowance = await allowance_status(ctx.session, giver_id=ctx.me, now=ctx.now, policy=ctx.policy)
    ctx.card(builders.balance(bal.balance, allowance.left, bal.next_expiry_amount,
                              bal.next_expiry_at, ctx.locale, tz=ctx.policy.timezone,  # type: ignore[arg-type]
                              reports=allowance.reports, per_report=allowance.per_report))


@router.on("history")
async def history(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_history")
        return
    lines = await ledger.history(ctx.session, employee_id=ctx.me, limit=int(cmd.args["n"]))
    if not lines:
        ctx.say_key("history_empty")
        return
    ctx.say(t("history_title", ctx.lang, n=len(lines)),
            *(f"{local_time(ctx, h.at)}  {signed(h.amount)}  {h.reason or h.kind}" for h in lines))


@router.on("leaderboard")
async def board(ctx: Ctx, cmd: Command) -> None:
    period = str(cmd.args["period"])
    dept = cmd.args.get("department")
    if cmd.args.get("board", "receivers") != "receivers":
        await recognition_board(ctx, str(cmd.args["board"]), period,
                                dept if isinstance(dept, str) else None)
        return
    rows = await leaderboard(ctx.session, period=period, department=dept if isinstance(dept, str) else None,
                             now=ctx.now, policy=ctx.policy)
    title = t("leaderboard_title", ctx.lang, period=t(f"period_{period}", ctx.lang),
              department=f" · {dept}" if dept else "")
    if not rows:
        ctx.say(title, t("leaderboard_empty", ctx.lang))
        return
    ctx.say(title, *(f"{r.rank}. {r.name}（{r.department}）{r.points}" for r in rows))


@router.on("help", "empty")
async def show_help(ctx: Ctx, cmd: Command) -> None:
    ctx.say_key("help")
