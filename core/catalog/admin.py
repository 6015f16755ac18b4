"""HR changes to one catalog item besides the upsert: add codes to its pool, deactivate it.

Both are written to the audit log; codes themselves never are (only how many were added).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.audit.service import record as audit
from core.catalog.importer import _add_codes, snapshot
from core.catalog.service import lock_item, unassigned_codes
from core.models import CatalogItem

MAX_CODE = 200


async def _locked(session: AsyncSession, sku: str) -> CatalogItem:
    item = await lock_item(session, sku.strip())
    if item is None:
        raise errors.UnknownItem(sku=sku.strip())
    return item


async def add_codes(
    session: AsyncSession, *, actor_id: str, sku: str, codes: list[str], now: datetime,
) -> int:
    """Append ``codes`` to a ``code`` item's pool (codes already there are skipped) and set its
    stock to the unassigned codes. Returns how many were new."""
    item = await _locked(session, sku)
    if item.kind != "code":
        raise errors.NotACodeItem(sku=item.sku)
    clean = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not clean or any(len(c) > MAX_CODE for c in clean):
        raise errors.InvalidCodes(max=MAX_CODE)
    before = snapshot(item)
    added = await _add_codes(session, item.sku, clean)
    item.stock = await unassigned_codes(session, item.sku)
    item.stock_added = item.stock + item.sold  # keeps stock + sold == stock_added
    await session.flush()
    await audit(session, actor=actor_id, action="catalog.codes", subject=f"item:{item.sku}",
                now=now, before=before, after={**snapshot(item), "codes_added": added})
    return added


async def deactivate(session: AsyncSession, *, actor_id: str, sku: str, now: datetime) -> bool:
    """Retire the item (nothing is deleted; open orders stay). False if it was inactive already."""
    item = await _locked(session, sku)
    if not item.active:
        return False
    before = snapshot(item)
    item.active = False
    await session.flush()
    await audit(session, actor=actor_id, action="catalog.deactivate", subject=f"item:{item.sku}",
                now=now, before=before, after=snapshot(item))
    return True
