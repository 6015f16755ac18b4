"""Reading the catalog, and the item-level rules orders rely on (window, available quantity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import columns, errors
from core.models import CatalogItem, CodeEntry


def in_window(item: CatalogItem, now: datetime) -> bool:
    """Inside the item's availability window (限时兑换): ``available_from <= now < available_until``."""
    if item.available_from is not None and now < item.available_from:
        return False
    return item.available_until is None or now < item.available_until


def check_window(item: CatalogItem, now: datetime) -> None:
    if not in_window(item, now):
        raise errors.NotAvailable(sku=item.sku, name=item.name,
                                  available_from=item.available_from,
                                  available_until=item.available_until)


# The statements read on every chat command are built once, with bind parameters (building one
# cost more Python time than running it; a prebuilt statement's cache key is memoized).
_LISTED = select(CatalogItem).where(
    CatalogItem.active.is_(True),
    or_(CatalogItem.available_from.is_(None), CatalogItem.available_from <= bindparam("now")),
    or_(CatalogItem.available_until.is_(None), CatalogItem.available_until > bindparam("now")),
)
_LISTED_IN = _LISTED.where(func.lower(CatalogItem.category) == bindparam("category"))
_BY_UPPER_SKU = (select(CatalogItem).where(func.upper(CatalogItem.sku) == bindparam("sku"))
                 .order_by(CatalogItem.sku).limit(1))
_LOCK_ITEM = (select(CatalogItem).where(CatalogItem.sku == bindparam("sku"))
              .with_for_update(key_share=True).execution_options(populate_existing=True))
_FREE_CODES = select(func.count()).select_from(CodeEntry).where(
    CodeEntry.sku == bindparam("sku"), CodeEntry.order_no.is_(None))
_FREE_CODES_BY_SKU = (
    select(CodeEntry.sku, func.count())
    .where(CodeEntry.sku.in_(bindparam("skus", expanding=True)), CodeEntry.order_no.is_(None))
    .group_by(CodeEntry.sku))


async def list_items(
    session: AsyncSession, *, category: str | None, now: datetime,
) -> list[CatalogItem]:
    """Active items inside their availability window, by category, price and SKU.

    ``category`` matches case-insensitively; None lists every category.
    """
    rows = await (session.scalars(_LISTED_IN, {"now": now, "category": category.strip().lower()})
                  if category else session.scalars(_LISTED, {"now": now}))
    # Sorted here, not in SQL: collations order Chinese text differently per database.
    return sorted(rows, key=lambda i: (i.category, i.points, i.sku))


async def find_item(session: AsyncSession, sku: str) -> CatalogItem | None:
    """The item by exact SKU, else by SKU ignoring case (people type ``兑换 cup01``)."""
    token = sku.strip()
    item = await session.get(CatalogItem, token)
    if item is None and token:
        item = await session.scalar(_BY_UPPER_SKU, {"sku": token.upper()})
    return item


async def get_item(
    session: AsyncSession, sku: str, *, include_inactive: bool = False,
) -> CatalogItem:
    """The item, or UnknownItem (also for a retired item unless ``include_inactive``)."""
    item = await find_item(session, sku)
    if item is None or not (item.active or include_inactive):
        raise errors.UnknownItem(sku=sku.strip())
    return item


async def categories(session: AsyncSession) -> list[str]:
    """Distinct non-empty categories of active items, sorted."""
    rows = await session.scalars(
        select(CatalogItem.category).where(CatalogItem.active.is_(True), CatalogItem.category != "")
        .distinct())
    return sorted(rows)


async def lock_item(session: AsyncSession, sku: str) -> CatalogItem | None:
    """The item row, locked and re-read from the database.

    FOR NO KEY UPDATE (``key_share``) rather than FOR UPDATE: it still serializes stock changes,
    but does not block other transactions inserting rows that reference the item (confirmations,
    orders, codes take a KEY SHARE lock on it), which FOR UPDATE would.
    """
    return await session.scalar(_LOCK_ITEM, {"sku": sku})


async def unassigned_codes(session: AsyncSession, sku: str) -> int:
    return int(await columns.scalar(session, _FREE_CODES, {"sku": sku}) or 0)


async def available(session: AsyncSession, item: CatalogItem) -> int | None:
    """How many can be redeemed now: free codes for a code item, else stock (None = unlimited)."""
    if item.kind == "code":
        return await unassigned_codes(session, item.sku)
    return item.stock


async def availability(session: AsyncSession, items: list[CatalogItem]) -> dict[str, int | None]:
    """``available`` for many items at once (one query for every code item's free codes)."""
    code_skus = [i.sku for i in items if i.kind == "code"]
    free: dict[str, int] = {}
    if code_skus:
        rows = await columns.rows(session, _FREE_CODES_BY_SKU, {"skus": code_skus})
        free = {sku: int(n) for sku, n in rows}
    return {i.sku: free.get(i.sku, 0) if i.kind == "code" else i.stock for i in items}


async def all_items(session: AsyncSession) -> list[CatalogItem]:
    """Every item, active first, by category and SKU (the console's catalog page)."""
    return list(await session.scalars(select(CatalogItem).order_by(
        CatalogItem.active.desc(), CatalogItem.category, CatalogItem.sku)))
