"""Giving points (赞/给/give) and points applications (申请/apply)."""

from __future__ import annotations

from bot.handlers.common import key, resolve_all
from bot.runtime.commands import Apply, Give
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards.builders import message
from cards.recognition import Joinable, join_buttons
from cards.texts import t
from core.applications.service import apply as apply_points
from core.awards.service import give as give_points

router = Router()


@router.on(Give)
async def give(ctx: Ctx, cmd: Give) -> None:
    recipients = await resolve_all(ctx, list(cmd.who))
    # the event is recorded by the dispatcher in this transaction (its inbox row, or for the
    # playground its answer under the event key): the award keeps no record of its own
    result = await give_points(ctx.session, giver_id=ctx.me, recipient_ids=recipients,
                               amount=cmd.amount, reason=cmd.reason, key=key(ctx), now=ctx.now,
                               policy=ctx.policy, record=False)
    lines = []
    for a in result.awards:
        if a.status == "approved":
            lines.append(t(ctx.lang, "award_sent", name=a.recipient_name, n=a.amount))
        else:
            lines.append(t(ctx.lang, "award_pending", name=a.recipient_name, n=a.amount,
                           id=a.approval_public_id))
        lines.append(t(ctx.lang, "award_id_line", id=a.public_id))
    # nothing was sent yet when every award waits for approval: do not say 点赞成功
    done = "award_done" if any(a.status == "approved" for a in result.awards) else "award_submitted"
    title = t(ctx.lang, done, left=result.allowance_left)
    # In a group the reply is the award card everyone sees: +1 joins it with one click (the
    # card prints "+1 Z12" too, for clients and channels where buttons cannot call back).
    buttons = join_buttons(ctx.locale, [Joinable(a.public_id, a.recipient_name)
                                        for a in result.awards]) \
        if ctx.event.source.is_group else []
    ctx.card(message(title, lines, ctx.locale, buttons))


@router.on(Apply)
async def apply(ctx: Ctx, cmd: Apply) -> None:
    view = await apply_points(ctx.session, applicant_id=ctx.me, amount=cmd.amount,
                              reason=cmd.reason, key=key(ctx), now=ctx.now, policy=ctx.policy)
    ctx.say_key("applied", n=view.amount, id=f"A{view.approval_id}")
