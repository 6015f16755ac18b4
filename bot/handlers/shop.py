"""Catalog (商城), redemption with confirmation (兑换 / 确认), orders and cancelling."""

from __future__ import annotations

from bot.handlers.common import local_time
from bot.runtime.commands import Cancel, CancelConfirmation, Catalog, Confirm, Orders, Redeem
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from cards import builders
from cards.texts import t
from core import ledger
from core.catalog import service as catalog
from core.orders import service as orders
from core.orders.desk import desk
from core.orders.views import OrderView

router = Router()
OPEN_SHOWN = 20  # a chat reply stays readable; the console and `jifen orders` show them all


def order_card(ctx: Ctx, o: OrderView, *, for_hr: bool = False, show_codes: bool = True) -> None:
    codes = ", ".join(o.codes) if show_codes else ""
    ctx.card(builders.order_status(o.order_no, o.name, o.qty, o.points, o.status,
                                   codes or None, o.note, ctx.locale, for_hr=for_hr))


@router.on(Catalog)
async def show_catalog(ctx: Ctx, cmd: Catalog) -> None:
    if cmd.category:
        known = await catalog.categories(ctx.session)
        if cmd.category not in known:
            ctx.say_key("catalog_unknown_category", category=cmd.category, categories="、".join(known))
            return
    items = await catalog.list_items(ctx.session, category=cmd.category, now=ctx.now)
    if not items:
        ctx.say_key("catalog_empty")
        return
    lines = []
    for item in items:
        left = await catalog.available(ctx.session, item)
        stock = "" if left is None else t(ctx.lang, "catalog_stock" if left else "catalog_sold_out", n=left)
        lines.append(f"{item.sku}  {item.name}  {item.points}{t(ctx.lang, 'pts')}{stock}")
    title = t(ctx.lang, "catalog_title", category=f" · {cmd.category}" if cmd.category else "")
    ctx.card(builders.catalog(title, [*lines, t(ctx.lang, "catalog_hint")], ctx.locale))


@router.on(Redeem)
async def redeem(ctx: Ctx, cmd: Redeem) -> None:
    pending = await orders.start_redemption(ctx.session, employee_id=ctx.me, sku=cmd.sku,
                                            qty=cmd.qty, now=ctx.now, policy=ctx.policy)
    bal = await ledger.balance(ctx.session, employee_id=ctx.me, now=ctx.now)
    ctx.card(builders.redemption_confirm(pending.code, pending.name, pending.qty, pending.points,
                                         bal.balance - pending.points, pending.expires_at,
                                         ctx.locale, tz=ctx.policy.timezone))


@router.on(Confirm)
async def confirm(ctx: Ctx, cmd: Confirm) -> None:
    # The order is shown once: in a private chat the reply is the confirmation (no push repeats
    # it); in a group the reply is seen by everyone, so it leaves out any code and the redeemer
    # gets the order, codes included, by a private push.
    private = not ctx.event.source.is_group
    order = await orders.confirm(ctx.session, employee_id=ctx.me, code=cmd.code, now=ctx.now,
                                 policy=ctx.policy, answered_privately=private)
    order_card(ctx, order, show_codes=private)


@router.on(Cancel)
async def cancel(ctx: Ctx, cmd: Cancel) -> None:
    # order numbers are "O" + a confirmation code, and codes never contain the letter O
    if cmd.target.startswith("O") and len(cmd.target) > 1:
        order = await orders.cancel(ctx.session, actor_id=ctx.me, order_no=cmd.target,
                                    now=ctx.now, policy=ctx.policy,
                                    answered_privately=not ctx.event.source.is_group)
        order_card(ctx, order)
        return
    await _cancel_confirmation(ctx, cmd.target)


@router.on(CancelConfirmation)
async def cancel_confirmation(ctx: Ctx, cmd: CancelConfirmation) -> None:
    await _cancel_confirmation(ctx, cmd.code)


async def _cancel_confirmation(ctx: Ctx, code: str) -> None:
    await orders.cancel_confirmation(ctx.session, employee_id=ctx.me, code=code, now=ctx.now)
    ctx.say_key("redeem_cancelled", code=code)


@router.on(Orders)
async def my_orders(ctx: Ctx, cmd: Orders) -> None:
    if cmd.open_desk:
        await open_orders(ctx)
        return
    mine = await orders.orders_of(ctx.session, employee_id=ctx.me, limit=10)
    if not mine:
        ctx.say_key("orders_none")
        return
    ctx.say(t(ctx.lang, "orders_title", n=len(mine)),
            *(f"{o.order_no}  {o.name} ×{o.qty}  {o.points}{t(ctx.lang, 'pts')}  "
              f"{t(ctx.lang, 'status_' + o.status)}" for o in mine))


async def open_orders(ctx: Ctx) -> None:
    """订单 待发货: HR's list of placed orders a person must handle, who / what / when."""
    if not ctx.is_hr():
        ctx.say_key("forbidden_hr")
        return
    rows = await desk(ctx.session, state="placed", limit=OPEN_SHOWN)
    if not rows:
        ctx.say_key("orders_open_none")
        return
    ctx.say(t(ctx.lang, "orders_open_title", n=len(rows)),
            *(f"{r.order_no}  {r.item} ×{r.qty}  {r.name}（{r.department}）{r.contact}  "
              f"{local_time(ctx, r.created_at)}" for r in rows))
