"""Catalog, the order desk and approvals."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.api.errors import ApiError
from bot.web.api.framework import Ctx, Reply, decode_cursor, validation_error
from bot.web.api.routes import TABLE
from bot.web.api.routes.people import page
from bot.web.api.schemas_shop import (
    ApprovalOut,
    ApprovalPage,
    ApprovalsQuery,
    CatalogQuery,
    CodesIn,
    CodesOut,
    ItemIn,
    ItemOut,
    ItemPage,
    NoteIn,
    OrderOut,
    OrderPage,
    OrderResultOut,
    OrdersQuery,
)
from core.admin import queries
from core.catalog import admin as catalog_admin
from core.catalog.importer import import_items
from core.catalog.schemas import ItemSpec
from core.catalog.service import available, get_item
from core.models import CatalogItem
from core.orders import service as orders

T = TABLE


async def item_out(s: AsyncSession, item: CatalogItem) -> dict[str, Any]:
    return ItemOut(
        sku=item.sku, name=item.name, points=item.points, category=item.category,
        stock=item.stock, available=await available(s, item), sold=item.sold,
        limit_per_employee=item.limit_per_employee, kind=item.kind,
        requires_approval=item.requires_approval, description=item.description,
        image_url=item.image_url, available_from=item.available_from,
        available_until=item.available_until, active=item.active).model_dump(mode="json")


def _int_cursor(text: str | None) -> int | None:
    if not text:
        return None
    value = decode_cursor(text)[0]
    if not isinstance(value, int):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned")
    return value


@T.add("GET", "/catalog", summary="Catalog items (retired ones too)", query=CatalogQuery,
       response=ItemPage)
async def list_catalog(ctx: Ctx[CatalogQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    after = str(decode_cursor(q.cursor)[0]) if q.cursor else None
    rows = await queries.catalog(s, active=q.active, after=after, limit=q.limit)
    return Reply(page([await item_out(s, i) for i in rows], q.limit,
                      rows[-1].sku if rows else None))


@T.add("PUT", "/catalog/{sku}", summary="Create or update an item (as a catalog file row)",
       body=ItemIn, response=ItemOut, errors=(400,))
async def put_item(ctx: Ctx[Any, ItemIn], s: AsyncSession) -> Reply:
    sku = ctx.params["sku"]
    if ctx.body.sku is not None and ctx.body.sku != sku:
        raise ApiError(422, "invalid_input", "body.sku: differs from the SKU in the path")
    data = ctx.body.model_dump(exclude_unset=True) | {"sku": sku}
    try:
        spec = ItemSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None
    report = await import_items(s, items=[spec], now=ctx.now, policy=ctx.policy,
                                actor_id=ctx.actor)
    item = await get_item(s, sku, include_inactive=True)
    return Reply(await item_out(s, item), status=201 if report.created else 200)


@T.add("POST", "/catalog/{sku}/codes", summary="Add codes to a code item's pool", body=CodesIn,
       response=CodesOut, errors=(400, 404))
async def add_codes(ctx: Ctx[Any, CodesIn], s: AsyncSession) -> Reply:
    added = await catalog_admin.add_codes(s, actor_id=ctx.actor, sku=ctx.params["sku"],
                                          codes=ctx.body.codes, now=ctx.now)
    item = await get_item(s, ctx.params["sku"], include_inactive=True)
    return Reply(CodesOut(sku=item.sku, added=added, available=await available(s, item))
                 .model_dump(), status=201)


@T.add("DELETE", "/catalog/{sku}", summary="Deactivate an item (nothing is deleted)",
       response=ItemOut, errors=(404,))
async def deactivate(ctx: Ctx[Any, Any], s: AsyncSession) -> Reply:
    await catalog_admin.deactivate(s, actor_id=ctx.actor, sku=ctx.params["sku"], now=ctx.now)
    return Reply(await item_out(s, await get_item(s, ctx.params["sku"], include_inactive=True)))


@T.add("GET", "/orders", summary="The order desk, newest first", query=OrdersQuery,
       response=OrderPage)
async def list_orders(ctx: Ctx[OrdersQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    rows = await queries.desk_orders(s, state=q.state, sku=q.sku,
                                     before_id=_int_cursor(q.cursor), limit=q.limit)
    items = [OrderOut(**{k: v for k, v in vars(o).items() if k != "id"}).model_dump(mode="json")
             for o in rows]
    return Reply(page(items, q.limit, rows[-1].id if rows else None))


def _order_out(view: orders.OrderView) -> dict[str, Any]:
    return OrderResultOut(order_no=view.order_no, employee_id=view.employee_id, sku=view.sku,
                          qty=view.qty, points=view.points, status=view.status, note=view.note,
                          codes=view.codes).model_dump()


@T.add("POST", "/orders/{no}/fulfil", summary="Mark an order delivered (发货)", body=NoteIn,
       response=OrderResultOut, errors=(400, 404, 409))
async def fulfil(ctx: Ctx[Any, NoteIn], s: AsyncSession) -> Reply:
    view = await orders.fulfil(s, actor_id=ctx.actor, order_no=ctx.params["no"],
                               note=ctx.body.note, now=ctx.now, policy=ctx.policy)
    return Reply(_order_out(view))


@T.add("POST", "/orders/{no}/cancel", summary="Cancel an open order: points and stock back",
       body=NoteIn, response=OrderResultOut, errors=(400, 404, 409))
async def cancel(ctx: Ctx[Any, NoteIn], s: AsyncSession) -> Reply:
    view = await orders.cancel(s, actor_id=ctx.actor, order_no=ctx.params["no"],
                               note=ctx.body.note, now=ctx.now, policy=ctx.policy)
    return Reply(_order_out(view))


@T.add("GET", "/approvals", summary="Approval requests (pending by default), oldest first",
       query=ApprovalsQuery, response=ApprovalPage)
async def list_approvals(ctx: Ctx[ApprovalsQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    rows = await queries.approvals(s, state=q.state, after_id=_int_cursor(q.cursor) or 0,
                                   limit=q.limit)
    items = [ApprovalOut(
        id=f"A{a.id}", kind=a.kind, subject_id=a.subject_id, requester_id=a.requester_id,
        summary=a.summary, amount=a.amount, status=a.status, created_at=a.created_at,
        age_hours=round((ctx.now - a.created_at).total_seconds() / 3600, 1),
        approver=a.approver).model_dump(mode="json") for a in rows]
    return Reply(page(items, q.limit, rows[-1].id if rows else None))
