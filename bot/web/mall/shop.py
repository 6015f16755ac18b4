"""商城: catalog by category with search, item page, redeem → confirm (the chat's 兑换 / 确认
codes, via ``core.orders``), my orders with their codes, cancelling."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.base import core_error_text, now, policy_of, run
from bot.web.mall.common import MAX_QTY, form, lang, mall, me, render, see_other, small_int
from cards.texts import t
from core import errors, ledger
from core.catalog import service as catalog
from core.models import CatalogItem
from core.orders import service as orders

ORDERS_SHOWN = 50


def _matches(item: CatalogItem, q: str) -> bool:
    text = q.strip().lower()
    return not text or any(text in (v or "").lower() for v in (item.name, item.sku,
                                                               item.description, item.category))


@mall
async def catalog_page(request: web.Request) -> web.StreamResponse:
    category = request.query.get("category", "").strip()[:64]
    q = request.query.get("q", "").strip()[:50]
    at = now()

    async def read(s: AsyncSession) -> dict[str, Any]:
        every = await catalog.list_items(s, category=None, now=at)
        shown = [i for i in every if (not category or i.category.lower() == category.lower())
                 and _matches(i, q)]
        return {"items": shown, "left": await catalog.availability(s, shown),
                "categories": sorted({i.category for i in every if i.category})}

    context = await run(request, read)
    return render(request, "catalog.html", context | {"category": category, "q": q,
                                                     "tab": "catalog"})


@mall
async def item_page(request: web.Request) -> web.StreamResponse:
    sku, at, employee_id = request.match_info["sku"], now(), me(request)

    async def read(s: AsyncSession) -> dict[str, Any] | None:
        item = await catalog.find_item(s, sku)
        if item is None or not item.active or not catalog.in_window(item, at):
            return None
        bal = await ledger.balance(s, employee_id=employee_id, now=at)
        left = (await catalog.availability(s, [item]))[item.sku]
        return {"item": item, "left": left, "balance": bal.balance}

    context = await run(request, read)
    if context is None:
        return see_other("/m/catalog", problem=core_error_text(request, errors.UnknownItem(sku=sku)))
    return render(request, "item.html", context | {"tab": "catalog", "max_qty": MAX_QTY})


@mall
async def redeem(request: web.Request) -> web.StreamResponse:
    data = await form(request)
    sku, qty = data.get("sku", "")[:64], small_int(data.get("qty"), default=1) or 1
    employee_id, policy = me(request), policy_of(request)
    try:
        pending = await run(request, lambda s: orders.start_redemption(
            s, employee_id=employee_id, sku=sku, qty=min(qty, MAX_QTY), now=now(), policy=policy))
    except errors.CoreError as exc:  # e.g. not enough points: shown on the item page
        return see_other(f"/m/item/{quote(sku, safe='')}", problem=core_error_text(request, exc))
    return see_other(f"/m/confirm/{pending.code}")


@mall
async def confirm_page(request: web.Request) -> web.StreamResponse:
    code, employee_id, at = request.match_info["code"][:16], me(request), now()

    async def read(s: AsyncSession) -> dict[str, Any]:
        view = await orders.open_confirmation(s, employee_id=employee_id, code=code, now=at)
        bal = await ledger.balance(s, employee_id=employee_id, now=at)
        return {"c": view, "after": bal.balance - view.points}

    try:
        context = await run(request, read)
    except errors.CoreError as exc:
        return see_other("/m/orders", problem=core_error_text(request, exc))
    return render(request, "confirm.html", context | {"tab": "catalog"})


@mall
async def confirm(request: web.Request) -> web.StreamResponse:
    code, employee_id, policy = request.match_info["code"][:16], me(request), policy_of(request)
    try:
        order = await run(request, lambda s: orders.confirm(s, employee_id=employee_id, code=code,
                                                            now=now(), policy=policy))
    except errors.CoreError as exc:
        return see_other("/m/orders", problem=core_error_text(request, exc))
    return see_other("/m/orders", notice=t(lang(request), "m_ordered", no=order.order_no))


@mall
async def drop_confirmation(request: web.Request) -> web.StreamResponse:
    code, employee_id = request.match_info["code"][:16], me(request)
    try:
        await run(request, lambda s: orders.cancel_confirmation(s, employee_id=employee_id,
                                                                code=code, now=now()))
    except errors.CoreError as exc:
        return see_other("/m/orders", problem=core_error_text(request, exc))
    return see_other("/m/catalog", notice=t(lang(request), "m_redeem_cancelled"))


@mall
async def orders_page(request: web.Request) -> web.StreamResponse:
    employee_id = me(request)
    mine = await run(request, lambda s: orders.orders_of(s, employee_id=employee_id,
                                                         limit=ORDERS_SHOWN))
    return render(request, "orders.html", {"orders": mine, "tab": "orders"})


@mall
async def cancel_order(request: web.Request) -> web.StreamResponse:
    order_no, employee_id, policy = request.match_info["no"][:16], me(request), policy_of(request)
    try:
        await run(request, lambda s: orders.cancel(s, actor_id=employee_id, order_no=order_no,
                                                   now=now(), policy=policy))
    except errors.CoreError as exc:
        return see_other("/m/orders", problem=core_error_text(request, exc))
    return see_other("/m/orders", notice=t(lang(request), "m_order_cancelled", no=order_no))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/m/catalog", catalog_page)
    app.router.add_get("/m/item/{sku}", item_page)
    app.router.add_post("/m/redeem", redeem)
    app.router.add_get("/m/confirm/{code}", confirm_page)
    app.router.add_post("/m/confirm/{code}", confirm)
    app.router.add_post("/m/confirm/{code}/cancel", drop_confirmation)
    app.router.add_get("/m/orders", orders_page)
    app.router.add_post("/m/orders/{no}/cancel", cancel_order)
