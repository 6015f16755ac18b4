"""HR commands: 发放 / 扣除 / 发货 / 广播 / 报表. Each refuses anyone without hr or admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from bot.handlers.common import key, resolve_all
from bot.handlers.shop import order_card
from bot.messages import t
from bot.runtime.commands import Command
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from core import outbox
from core.hr import service as hr
from core.orders import service as orders
from core.reports.service import month_summary, parse_month
from core.timeutil import month_key

router = Router()
Handler = Callable[[Ctx, Command], Awaitable[None]]


def hr_only(fn: Handler) -> Handler:
    @wraps(fn)
    async def wrapper(ctx: Ctx, cmd: Command) -> None:
        if not ctx.is_hr():  # the core checks again; this gives the clear refusal first
            ctx.say_key("forbidden_hr")
            return
        await fn(ctx, cmd)

    return wrapper


@router.on("grant", "deduct")
@hr_only
async def grant_or_deduct(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key(f"usage_{cmd.intent}")
        return
    action = hr.grant if cmd.intent == "grant" else hr.deduct
    lines = []
    for emp in await resolve_all(ctx, list(cmd.args["who"])):
        res = await action(ctx.session, actor_id=ctx.me, employee_id=emp, amount=int(cmd.args["amount"]),
                           reason=str(cmd.args["reason"]), key=key(ctx, emp), now=ctx.now,
                           policy=ctx.policy)
        lines.append(t(f"{cmd.intent}_line", ctx.lang, who=emp, n=res.amount, balance=res.balance))
    ctx.say(t(f"{cmd.intent}_done", ctx.lang), *lines)


@router.on("fulfill")
@hr_only
async def fulfil(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_target", example="发货 OK7Q2" if ctx.lang == "zh" else "fulfill OK7Q2")
        return
    order = await orders.fulfil(ctx.session, actor_id=ctx.me, order_no=cmd.args["target"],
                                note=cmd.args.get("note") or None, now=ctx.now, policy=ctx.policy)
    order_card(ctx, order, for_hr=True)


@router.on("broadcast")
@hr_only
async def broadcast(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_broadcast")
        return
    targets = [tg.name for tg in ctx.policy.broadcast.targets]
    wanted = cmd.args.get("target")
    if wanted:
        if wanted not in targets:
            ctx.say_key("broadcast_unknown", target=wanted, targets="、".join(targets) or "-")
            return
        targets = [wanted]
    if not targets:
        ctx.say_key("broadcast_none")
        return
    for name in targets:
        await outbox.broadcast(ctx.session, target=name, kind="promotion", now=ctx.now,
                               payload={"text": cmd.args["text"], "by": ctx.employee.name},
                               dedupe_key=f"{key(ctx)}:{name}")
    ctx.say_key("broadcast_queued", n=len(targets), targets="、".join(targets))


@router.on("report")
@hr_only
async def report(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_report")
        return
    month = parse_month(cmd.args["month"]) if cmd.args.get("month") else month_key(ctx.now, ctx.policy)
    s = await month_summary(ctx.session, month=month, now=ctx.now, policy=ctx.policy)
    lines = [t("report_flows", ctx.lang, issued=s.issued, redeemed=s.redeemed, expired=s.expired),
             t("report_awards", ctx.lang, n=s.awards_count, points=s.awards_points),
             t("report_expiring", ctx.lang, n=s.expiring_30d, people=s.expiring_employees)]
    lines += [f"· {i.name} ×{i.qty}（{i.points}）" for i in s.top_items[:5]]
    lines += [f"· {d.department or '-'}: +{d.issued} / -{d.redeemed}" for d in s.by_department]
    ctx.say(t("report_title", ctx.lang, month=month), *lines)
