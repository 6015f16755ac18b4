"""Catalog import (``jifen catalog import``; CSV here, YAML read in ``config.catalog_file``): validate everything, then upsert.

Stock in the file is the quantity available now; the importer keeps ``stock + sold ==
stock_added`` by raising ``stock_added`` by the difference. A ``code`` item's stock is its number
of unassigned codes: codes are appended to the pool (duplicates ignored) and a ``stock`` column
for such an item is not used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.audit.service import record as audit
from core.catalog.schemas import COLUMNS, CatalogImportReport, ItemSpec
from core.catalog.service import lock_item, unassigned_codes
from core.csvfile import csv_records
from core.models import CatalogItem, CodeEntry
from core.policy import Policy
from core.timeutil import start_of_local_day, tz

__all__ = [
    "CatalogImportReport", "ItemSpec", "Row", "bad_item", "import_items", "item_specs",
    "parse_catalog_csv",
]

Row = tuple[int, Any, dict[str, int]]  # (line of the item, raw data, line of each field)


def parse_catalog_csv(text: str) -> list[ItemSpec]:
    """Validate a whole CSV file; see ``item_specs``."""
    return item_specs(_csv_rows(text))


def item_specs(rows: list[Row]) -> list[ItemSpec]:
    """Validate every row of a file (the YAML form is read in ``config.catalog_file``); the
    first bad item raises InvalidInput with its line and a one-line message naming the field,
    so nothing gets imported."""
    specs: list[ItemSpec] = []
    seen: dict[str, int] = {}
    for line, raw, field_lines in rows:
        spec = _validate(line, raw, field_lines)
        if spec.sku in seen:
            raise bad_item(line, "sku", f"{spec.sku} is already on line {seen[spec.sku]}")
        seen[spec.sku] = line
        specs.append(spec)
    return specs


def bad_item(line: int, field: str, problem: str) -> errors.CoreError:
    return errors.InvalidInput(line=line, field=field, message=f"{field}: {problem}")


def _validate(line: int, raw: Any, field_lines: dict[str, int]) -> ItemSpec:
    if not isinstance(raw, dict):
        raise bad_item(line, "item", "expected a mapping of columns")
    try:
        spec = ItemSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            field, message = str(first["loc"][0]), f"{'.'.join(map(str, first['loc']))}: {msg}"
        else:  # a rule across fields names its field first ("codes: only …")
            field, message = msg.split(":", 1)[0], msg
        raise errors.InvalidInput(line=field_lines.get(field, line), field=field,
                                  message=message) from None
    return spec


def _csv_rows(text: str) -> list[Row]:
    records = csv_records(text, required=("sku", "name", "points"))
    return [(line, {k: v for k, v in cells.items() if k in COLUMNS}, {}) for line, cells in records]


async def import_items(
    session: AsyncSession, *, items: list[ItemSpec], now: datetime, policy: Policy,
    actor_id: str = "cli",
) -> CatalogImportReport:
    """Upsert ``items`` by SKU (each row locked while it changes), append codes, restock.
    Each item is written to the audit log as ``catalog.upsert`` by ``actor_id``."""
    created = updated = codes_added = 0
    for spec in items:
        item = await lock_item(session, spec.sku)
        before = None if item is None else snapshot(item)
        if item is None:
            item = CatalogItem(sku=spec.sku, points=spec.points, stock=None, stock_added=0, sold=0)
            session.add(item)
            created += 1
        else:
            updated += 1
        _apply(item, spec, policy)
        await session.flush()
        added = await _add_codes(session, spec.sku, spec.codes)
        codes_added += added
        await _restock(session, item, spec)
        await audit(session, actor=actor_id, action="catalog.upsert", subject=f"item:{spec.sku}",
                    now=now, before=before, after={**snapshot(item), "codes_added": added})
    await session.flush()
    return CatalogImportReport(created=created, updated=updated, codes_added=codes_added)


def snapshot(item: CatalogItem) -> dict[str, Any]:
    """The item's fields for the audit log (codes are never logged)."""
    return {column: getattr(item, column) for column in (
        "name", "points", "category", "stock", "limit_per_employee", "kind", "requires_approval",
        "description", "image_url", "available_from", "available_until", "active")}


def _apply(item: CatalogItem, spec: ItemSpec, policy: Policy) -> None:
    item.name = spec.name
    item.points = spec.points
    item.category = spec.category
    item.limit_per_employee = spec.limit_per_employee
    item.kind = spec.kind
    item.requires_approval = spec.requires_approval
    item.description = spec.description
    item.image_url = spec.image_url
    item.available_from = _instant(spec.available_from, policy, end=False)
    item.available_until = _instant(spec.available_until, policy, end=True)
    item.active = spec.active


def _instant(value: datetime | date | None, policy: Policy, *, end: bool) -> datetime | None:
    """A written date or time as UTC. Times without an offset are local (policy time zone).
    A date is local midnight; an end date means the midnight that ends it, so
    ``available_until: 2026-03-31`` includes 31 March."""
    if value is None:
        return None
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=tz(policy))
        return local.astimezone(UTC)
    return start_of_local_day(value + timedelta(days=1 if end else 0), policy)


async def _add_codes(session: AsyncSession, sku: str, codes: list[str]) -> int:
    if not codes:
        return 0
    known = set(await session.scalars(select(CodeEntry.code).where(CodeEntry.sku == sku)))
    fresh = [c for c in codes if c not in known]
    session.add_all(CodeEntry(sku=sku, code=c) for c in fresh)
    await session.flush()
    return len(fresh)


async def _restock(session: AsyncSession, item: CatalogItem, spec: ItemSpec) -> None:
    if item.kind == "code":
        item.stock = await unassigned_codes(session, item.sku)
    else:
        item.stock = spec.stock
    # Units sold stay sold; whatever is available now on top of them has been stocked in total.
    item.stock_added = (item.stock or 0) + item.sold
