"""The checks a redemption must pass, shared by ``start_redemption`` and ``confirm``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.catalog.service import available, check_window
from core.directory import service as directory
from core.models import CatalogItem, Order
from core.orders.views import DEAD_STATES

MAX_QTY = 20


def check_item(item: CatalogItem | None, sku: str, now: datetime) -> CatalogItem:
    """The item if it is active and inside its window (UnknownItem / NotAvailable otherwise)."""
    if item is None or not item.active:
        raise errors.UnknownItem(sku=sku)
    check_window(item, now)
    return item


def check_qty(qty: int) -> None:
    if not 1 <= qty <= MAX_QTY:
        raise errors.InvalidQuantity(qty=qty, max=MAX_QTY)


async def check_stock(session: AsyncSession, item: CatalogItem, qty: int) -> None:
    left = await available(session, item)
    if left is not None and left < qty:
        raise errors.OutOfStock(sku=item.sku, name=item.name, available=left, need=qty)


_USED = select(func.coalesce(func.sum(Order.qty), 0)).where(  # built once (core.ledger.service)
    Order.employee_id == bindparam("emp"), Order.sku == bindparam("sku"),
    Order.month == bindparam("month"), Order.status.not_in(DEAD_STATES))


async def used_this_month(session: AsyncSession, *, employee_id: str, sku: str, month: str) -> int:
    """Units of ``sku`` in the employee's live orders of the local ``month``."""
    return int(await session.scalar(
        _USED, {"emp": employee_id, "sku": sku, "month": month}) or 0)


async def check_limit(
    session: AsyncSession, *, item: CatalogItem, employee_id: str, qty: int, month: str,
) -> None:
    if item.limit_per_employee is None:
        return
    used = await used_this_month(session, employee_id=employee_id, sku=item.sku, month=month)
    if used + qty > item.limit_per_employee:
        raise errors.LimitReached(limit=item.limit_per_employee, used=used, sku=item.sku,
                                  name=item.name)


async def active_hr(session: AsyncSession) -> list[str]:
    """Active employees holding the ``hr`` role."""
    return [e.employee_id for e in await directory.role_holders(session, "hr")]
