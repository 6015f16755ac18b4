"""Catalog import (``jifen catalog import``; CSV here, YAML read in ``config.catalog_file``): validate everything, then upsert.

Stock in the file is the quantity available now; the importer keeps ``stock + sold ==
stock_added`` by raising ``stock_added`` by the difference. A ``code`` item's stock is its number
of unassigned codes: codes are appended to the pool (duplicates ignored) and a ``stock`` column
for such an item is not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.audit.service import record as audit
from core.catalog.schemas import COLUMNS, CatalogImportReport, ItemSpec
from core.catalog.service import find_item, lock_item, unassigned_codes
from core.csvfile import bad_cell, csv_records
from core.models import CatalogItem, CodeEntry
from core.policy import Policy
from core.problems import CellProblem, problem
from core.timeutil import start_of_local_day, tz

__all__ = [
    "CatalogImportReport", "ItemSpec", "Row", "bad_cell", "import_items", "item_refusal", "item_specs",
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
            raise bad_cell(line, "sku", "sku_used_on", value=spec.sku, first=seen[spec.sku])
        seen[spec.sku] = line
        specs.append(spec)
    return specs


# The schema's (pydantic's) refusals as our kinds of problem: (kind, params) from the value as
# written and the error's context. The schema's own rules raise our kinds directly.
_FROM_SCHEMA: dict[str, Callable[[Any, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "missing": lambda value, ctx: ("required", {}),
    "string_too_short": lambda value, ctx: ("required", {}),
    "string_too_long": lambda value, ctx: ("too_long", {"max": ctx["max_length"]}),
    "string_pattern_mismatch": lambda value, ctx: ("not_valid", {"value": value}),
    "int_parsing": lambda value, ctx: ("not_a_number", {"value": value}),
    "int_from_float": lambda value, ctx: ("not_a_number", {"value": value}),
    "greater_than": lambda value, ctx: (
        ("not_positive", {"value": value}) if ctx["gt"] == 0 else
        ("not_at_least", {"value": value, "limit": ctx["gt"] + 1})),
    "greater_than_equal": lambda value, ctx: ("not_at_least", {"value": value, "limit": ctx["ge"]}),
    "literal_error": lambda value, ctx: ("not_one_of", {
        "value": value, "choices": "|".join(re.findall(r"'([^']*)'", ctx["expected"]))}),
    "bool_parsing": lambda value, ctx: ("not_yes_no", {"value": value}),
    "extra_forbidden": lambda value, ctx: ("not_a_field", {}),
    "not_a_moment": lambda value, ctx: ("not_a_moment", {"value": value}),
    "code_too_long": lambda value, ctx: ("code_too_long", {"max": ctx["max"]}),
    "codes_need_code_kind": lambda value, ctx: ("codes_need_code_kind", {}),
    "not_after_start": lambda value, ctx: ("not_after_start", {}),
}
# rules across fields name the field they refuse
_RULE_FIELDS = {"codes_need_code_kind": "codes", "not_after_start": "available_until"}


def _problem(error: ErrorDetails) -> CellProblem | None:
    """The schema's first refusal as one of our problems; None for a kind not foreseen (told
    then in the schema's own words, in English)."""
    mapped = _FROM_SCHEMA.get(error["type"])
    field = str(error["loc"][0]) if error["loc"] else _RULE_FIELDS.get(error["type"])
    if mapped is None or field is None:
        return None
    kind, params = mapped(error.get("input"), dict(error.get("ctx") or {}))
    return problem(field, kind, **params)


def _validate(line: int, raw: Any, field_lines: dict[str, int]) -> ItemSpec:
    if not isinstance(raw, dict):
        raise bad_cell(line, "item", "not_a_mapping")
    try:
        return ItemSpec.model_validate(raw)
    except ValidationError as exc:
        raise item_refusal(exc, line, field_lines) from None


def item_refusal(exc: ValidationError, line: int | None = None,
                 field_lines: dict[str, int] | None = None) -> errors.InvalidInput:
    """An item the schema refused, as a refusal naming the field (on its line in a file: the
    field's own line when known, else the item's); the console's item form has no line."""
    first = exc.errors()[0]
    typed = _problem(first)
    field = (typed.column if typed is not None else None) or (
        str(first["loc"][0]) if first["loc"] else "item")
    at = (field_lines or {}).get(field, line)
    if typed is not None:
        return errors.InvalidInput(line=at, field=field, message=typed.english, problem=typed)
    msg = str(first["msg"]).removeprefix("Value error, ")
    return errors.InvalidInput(line=at, field=field,
                               message=f"{'.'.join(map(str, first['loc'])) or field}: {msg}")


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


async def create_item(
    session: AsyncSession, *, spec: ItemSpec, now: datetime, policy: Policy, actor_id: str,
) -> CatalogImportReport:
    """A new item (the console's "new item" form): as ``import_items``, but refused when its SKU
    is taken, also in another case. The import upserts by SKU, so it would overwrite that
    item, and chat finds items ignoring case."""
    taken = await find_item(session, spec.sku)
    if taken is not None:
        found = problem("sku", "belongs_to", value=spec.sku, owner=taken.name)
        raise errors.InvalidInput(field="sku", message=found.english, problem=found)
    return await import_items(session, items=[spec], now=now, policy=policy, actor_id=actor_id)


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
