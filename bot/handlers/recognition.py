"""+1 (我也赞), 撤回 (undo), 撤销 (revoke), 申诉 (appeal) and the givers / values boards."""

from __future__ import annotations

from bot.handlers.common import key
from bot.runtime.commands import Appeal, Join, Revoke, Undo
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards.texts import t
from core.appeals.service import appeal as file_appeal
from core.awards.join import join as join_award
from core.awards.reversal import revoke as revoke_award
from core.awards.reversal import undo as undo_award
from core.awards.schemas import award_public_id
from core.reports.recognition import giver_board, value_board

router = Router()


@router.on(Join)
async def join(ctx: Ctx, cmd: Join) -> None:
    result = await join_award(ctx.session, joiner_id=ctx.me, award_id=cmd.award_id,
                              amount=cmd.amount, key=key(ctx), now=ctx.now, policy=ctx.policy)
    [view] = result.awards
    if view.status == "approved":
        ctx.say_key("join_done", name=view.recipient_name, n=view.amount, id=view.public_id,
                    left=result.allowance_left)
    else:
        ctx.say_key("join_pending", name=view.recipient_name, n=view.amount,
                    approval=view.approval_public_id, left=result.allowance_left)


@router.on(Undo)
async def undo(ctx: Ctx, cmd: Undo) -> None:
    res = await undo_award(ctx.session, actor_id=ctx.me, award_id=cmd.award_id, now=ctx.now,
                           policy=ctx.policy)
    award_id = award_public_id(res.award_id)
    if res.reversed:
        ctx.say_key("undo_done", name=res.recipient_name, n=res.reversed, id=award_id,
                    returned=res.allowance_returned)
    else:
        ctx.say_key("undo_withdrawn", id=award_id, returned=res.allowance_returned)


@router.on(Revoke)
async def revoke(ctx: Ctx, cmd: Revoke) -> None:
    if not ctx.is_hr():  # the core checks again; this gives the clear refusal first
        ctx.say_key("forbidden_hr")
        return
    res = await revoke_award(ctx.session, actor_id=ctx.me, award_id=cmd.award_id,
                             reason=cmd.reason, now=ctx.now, policy=ctx.policy)
    lines = [t(ctx.lang, "revoke_partial", reversed=res.reversed)] \
        if 0 < res.reversed < res.amount else []
    ctx.say(t(ctx.lang, "revoke_done", id=award_public_id(res.award_id), name=res.recipient_name,
              reversed=res.reversed, n=res.amount), *lines)


@router.on(Appeal)
async def appeal(ctx: Ctx, cmd: Appeal) -> None:
    view = await file_appeal(ctx.session, appellant_id=ctx.me, subject=cmd.subject,
                             reason=cmd.reason, key=key(ctx), now=ctx.now, policy=ctx.policy)
    ctx.say_key("appealed", subject=view.subject, n=view.amount, id=view.approval_public_id)


async def recognition_board(ctx: Ctx, board: str, period: str, dept: str | None) -> None:
    """排行 点赞 / 排行 价值观 (``board`` givers | values), by period and department."""
    suffix = f" · {dept}" if dept else ""
    period_text = t(ctx.lang, f"period_{period}")
    title = t(ctx.lang, f"board_{board}_title", period=period_text, department=suffix)
    if board == "givers":
        givers = await giver_board(ctx.session, period=period, department=dept, now=ctx.now,
                                   policy=ctx.policy)
        lines = [t(ctx.lang, "board_giver_line", rank=r.rank, name=r.name,
                   department=r.department, points=r.points, awards=r.awards) for r in givers]
    else:
        values = await value_board(ctx.session, period=period, department=dept, now=ctx.now,
                                   policy=ctx.policy)
        lines = [t(ctx.lang, "board_value_line", rank=r.rank, value=r.value, awards=r.awards,
                   points=r.points) for r in values]
    ctx.say(title, *(lines or [t(ctx.lang, "leaderboard_empty")]))
