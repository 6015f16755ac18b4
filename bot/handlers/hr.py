"""HR commands: 发放 / 扣除 / 发货 / 广播 / 报表. Each refuses anyone without hr or admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TypeVar

from bot.handlers.common import key, resolve_all
from bot.handlers.shop import order_card
from bot.runtime.commands import Broadcast, Command, Deduct, Fulfil, Grant, Report
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards.texts import Locale, t
from core.hr import service as hr
from core.hr.broadcast import broadcast as send_broadcast
from core.orders import service as orders
from core.reports.service import MonthSummary, month_summary, parse_month
from core.timeutil import month_key

router = Router()
C = TypeVar("C", bound=Command)


def hr_only(fn: Callable[[Ctx, C], Awaitable[None]]) -> Callable[[Ctx, C], Awaitable[None]]:
    @wraps(fn)
    async def wrapper(ctx: Ctx, cmd: C) -> None:
        if not ctx.is_hr():  # the core checks again; this gives the clear refusal first
            ctx.say_key("forbidden_hr")
            return
        await fn(ctx, cmd)

    return wrapper


@router.on(Grant, Deduct)
@hr_only
async def grant_or_deduct(ctx: Ctx, cmd: Grant | Deduct) -> None:
    action, name = (hr.grant, "grant") if isinstance(cmd, Grant) else (hr.deduct, "deduct")
    lines = []
    for emp in await resolve_all(ctx, list(cmd.who)):
        res = await action(ctx.session, actor_id=ctx.me, employee_id=emp, amount=cmd.amount,
                           reason=cmd.reason, key=key(ctx, emp), now=ctx.now, policy=ctx.policy)
        lines.append(t(ctx.lang, f"{name}_line", who=emp, n=res.amount, balance=res.balance))
    ctx.say(t(ctx.lang, f"{name}_done"), *lines)


@router.on(Fulfil)
@hr_only
async def fulfil(ctx: Ctx, cmd: Fulfil) -> None:
    order = await orders.fulfil(ctx.session, actor_id=ctx.me, order_no=cmd.order_no,
                                note=cmd.note or None, now=ctx.now, policy=ctx.policy)
    order_card(ctx, order, for_hr=True)


@router.on(Broadcast)
@hr_only
async def broadcast(ctx: Ctx, cmd: Broadcast) -> None:
    res = await send_broadcast(ctx.session, actor_id=ctx.me, text=cmd.text,
                               target=cmd.target or None, key=key(ctx), now=ctx.now,
                               policy=ctx.policy)
    ctx.say_key("broadcast_queued", n=len(res.targets), targets="、".join(res.targets))


@router.on(Report)
@hr_only
async def report(ctx: Ctx, cmd: Report) -> None:
    month = parse_month(cmd.month) if cmd.month else month_key(ctx.now, ctx.policy)
    s = await month_summary(ctx.session, actor_id=ctx.me, month=month, now=ctx.now,
                            policy=ctx.policy)
    ctx.say(t(ctx.lang, "report_title", month=month), *report_lines(s, ctx.lang))


def report_lines(s: MonthSummary, lang: Locale) -> list[str]:
    """The sections of ``jifen report`` and of the report CSV, with the same figures."""
    none = [f"· {t(lang, 'report_none')}"]
    return [
        t(lang, "report_section_points"),
        t(lang, "report_points", issued=s.issued, redeemed=s.redeemed, expired=s.expired,
          deducted=s.deducted, refunded=s.refunded),
        t(lang, "report_section_awards"),
        t(lang, "report_awards", n=s.awards_count, points=s.awards_points),
        t(lang, "report_section_upcoming"),
        t(lang, "report_expiring", n=s.expiring_30d, people=s.expiring_employees),
        t(lang, "report_open_orders", n=s.open_orders, points=s.open_points),
        t(lang, "report_section_top"),
        *([f"· {i.name} ×{i.qty}（{t(lang, 'n_points', n=i.points)}）" for i in s.top_items[:5]]
          or none),
        t(lang, "report_section_departments"),
        *([f"· {d.department or '-'}: +{d.issued} / -{d.redeemed}" for d in s.by_department]
          or none),
    ]
