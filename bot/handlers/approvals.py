"""Managers' queue (审批) and decisions (同意 / 拒绝, or the card buttons)."""

from __future__ import annotations

from bot.runtime.commands import Approvals, Decide
from bot.runtime.context import Ctx
from bot.runtime.events import CardAction
from bot.runtime.router import Router
from cards import builders
from core.approvals import service as approvals
from core.directory.service import department_if_shared
from core.models import Employee

router = Router()
SHOWN = 5  # cards per 审批 reply; the rest are counted


@router.on(Approvals)
async def queue(ctx: Ctx, cmd: Approvals) -> None:
    pending = await approvals.pending_for(ctx.session, employee_id=ctx.me)
    if not pending:
        ctx.say_key("approvals_none")
        return
    ctx.say_key("approvals_count", n=len(pending))
    for req in pending[:SHOWN]:
        requester = await ctx.session.get(Employee, req.requester_id)
        shared = await department_if_shared(ctx.session, requester) if requester else None
        ctx.card(builders.approval_request(req.public_id, req.kind, requester.name if requester else "",
                                           req.amount, req.summary, ctx.locale,
                                           step=req.current_step, requester_department=shared))


@router.on(Decide)
async def decide(ctx: Ctx, cmd: Decide) -> None:
    decision = await approvals.decide(
        ctx.session, approval_id=cmd.approval_id, actor_id=ctx.me, approve=cmd.approve,
        comment=cmd.note or None, now=ctx.now, policy=ctx.policy,
        step=cmd.step)  # a button names the step its card was shown for
    card = builders.approval_decided(decision.public_id, _shown_status(decision.status),
                                     decision.decided_by_name, decision.comment, ctx.locale,
                                     summary=decision.summary, amount=decision.amount)
    if isinstance(ctx.event, CardAction):
        ctx.card_update = card  # the clicked card shows the outcome instead of its buttons
    if decision.final:
        ctx.card(card)
    else:
        ctx.say_key("approval_forwarded", id=decision.public_id)


def _shown_status(status: str) -> str:
    return status if status in ("approved", "rejected") else "approved"
