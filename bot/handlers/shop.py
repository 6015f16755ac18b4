"""Catalog (商城), redemption with confirmation (兑换 / 确认), orders and cancelling."""

from __future__ import annotations

from bot.messages import t
from bot.runtime.commands import Command
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from bot.web.mall.links import with_mall_link
from cards import builders
from core import ledger
from core.catalog import service as catalog
from core.orders import service as orders
from core.orders.views import OrderView

router = Router()


def order_card(ctx: Ctx, o: OrderView, *, for_hr: bool = False) -> None:
    ctx.card(builders.order_status(o.order_no, o.name, o.qty, o.points, o.status,
                                   ", ".join(o.codes) or None, o.note, ctx.locale, for_hr=for_hr))  # type: ignore[arg-type]


@router.on("catalog")
async def show_catalog(ctx: Ctx, cmd: Command) -> None:
    category = cmd.args.get("category")
    items = await catalog.list_items(ctx.session, category=category, now=ctx.now)
    if not items:
        ctx.say_key("catalog_empty")
        return
    lines = []
    for item in items:
        left = await catalog.available(ctx.session, item)
        stock = "" if left is None else t("catalog_stock", ctx.lang, n=left)
        lines.append(f"{item.sku}  {item.name}  {item.points}{t('pts', ctx.lang)}{stock}")
    card = builders.message(t("catalog_title", ctx.lang, category=f" · {category}" if category else ""),
                            [*lines, t("catalog_hint", ctx.lang)], ctx.locale)  # type: ignore[arg-type]
    ctx.card(await with_mall_link(ctx.session, ctx.settings, card, employee_id=ctx.me, now=ctx.now))


@router.on("redeem")
async def redeem(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_redeem")
        return
    pending = await orders.start_redemption(ctx.session, employee_id=ctx.me, sku=cmd.args["sku"],
                                            qty=int(cmd.args["qty"]), now=ctx.now, policy=ctx.policy)
    bal = await ledger.balance(ctx.session, employee_id=ctx.me, now=ctx.now)
    ctx.card(builders.redemption_confirm(pending.code, pending.name, pending.qty, pending.points,
                                         bal.balance - pending.points, pending.expires_at,
                                         ctx.locale, tz=ctx.policy.timezone))  # type: ignore[arg-type]


@router.on("confirm")
async def confirm(ctx: Ctx, cmd: Command) -> None:
    if cmd.error:
        ctx.say_key("usage_target", example="确认 K7Q2" if ctx.lang == "zh" else "confirm K7Q2")
        return
    order = await orders.confirm(ctx.session, employee_id=ctx.me, code=cmd.args["target"],
                                 now=ctx.now, policy=ctx.policy)
    order_card(ctx, order)


@router.on("cancel", "cancel_confirmation")
async def cancel(ctx: Ctx, cmd: Command) -> None:
    target = str(cmd.args.get("target") or "")
    if cmd.error or not target:
        ctx.say_key("usage_target", example="取消订单 OK7Q2" if ctx.lang == "zh" else "cancel OK7Q2")
        return
    # order numbers are "O" + a confirmation code, and codes never contain the letter O
    if cmd.intent == "cancel" and target.startswith("O") and len(target) > 1:
        order = await orders.cancel(ctx.session, actor_id=ctx.me, order_no=target, now=ctx.now,
                                    policy=ctx.policy)
        order_card(ctx, order)
        return
    await orders.cancel_confirmation(ctx.session, employee_id=ctx.me, code=target, now=ctx.now)
    ctx.say_key("redeem_cancelled", code=target)


@router.on("orders")
async def my_orders(ctx: Ctx, cmd: Command) -> None:
    mine = await orders.orders_of(ctx.session, employee_id=ctx.me, limit=10)
    if not mine:
        ctx.say_key("orders_none")
        return
    ctx.say(t("orders_title", ctx.lang, n=len(mine)),
            *(f"{o.order_no}  {o.name} ×{o.qty}  {o.points}{t('pts', ctx.lang)}  "
              f"{t('status_' + o.status, ctx.lang)}" for o in mine))
