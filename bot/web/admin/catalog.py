"""商品 Catalog: list, create and edit items, stock (restock), code pools (paste or upload; codes
are never shown again, only counted), availability windows, deactivate. Every change goes through
the catalog importer (``import_items``) with a validated ``ItemSpec``, like ``jifen catalog import``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import back, lang, refused, render, staff
from bot.web.base import core_error_text, now, policy_of, run
from cards.texts import t
from core import errors
from core.catalog.importer import ItemSpec, import_items, item_refusal
from core.catalog.service import all_items, unassigned_codes
from core.models import CatalogItem

FIELDS = ("sku", "name", "points", "category", "stock", "limit_per_employee", "kind",
          "requires_approval", "description", "image_url", "available_from", "available_until")
MAX_CODES_FILE = 1024 * 1024


async def _items(s: AsyncSession) -> list[tuple[CatalogItem, int]]:
    items = await all_items(s)
    return [(i, await unassigned_codes(s, i.sku) if i.kind == "code" else 0) for i in items]


@staff
async def page(request: web.Request) -> web.StreamResponse:
    items = await run(request, _items)
    return render(request, "catalog.html", {"items": items})


async def _one(s: AsyncSession, sku: str) -> tuple[CatalogItem | None, int]:
    item = await s.get(CatalogItem, sku)
    return item, (await unassigned_codes(s, sku) if item is not None else 0)


@staff
async def edit(request: web.Request) -> web.StreamResponse:
    sku = request.match_info.get("sku", "")
    item, codes_left = await run(request, lambda s: _one(s, sku)) if sku else (None, 0)
    if sku and item is None:
        return refused(request, "/admin/catalog", errors.UnknownItem(sku=sku))
    return render(request, "catalog_item.html", {"item": item, "codes_left": codes_left})


def _spec_data(data: dict[str, Any], codes: list[str], active: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {k: str(data.get(k, "")).strip() for k in FIELDS}
    spec["requires_approval"] = "true" if data.get("requires_approval") else "false"
    spec["codes"] = codes
    spec["active"] = active
    return {k: v for k, v in spec.items() if v != "" or k in ("sku", "name", "points")}


async def _codes(data: Any) -> list[str]:
    lines = str(data.get("codes", "")).splitlines()
    upload = data.get("codes_file")
    if isinstance(upload, web.FileField):
        lines += upload.file.read(MAX_CODES_FILE).decode("utf-8", errors="replace").splitlines()
    return [c.strip() for c in lines if c.strip()]


@staff
async def save(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    active = data.get("active", "1") != "0"
    try:
        spec = ItemSpec.model_validate(_spec_data(dict(data), await _codes(data), active))
    except ValidationError as exc:
        return back(str(request.path), problem=core_error_text(request, item_refusal(exc)))
    policy = policy_of(request)
    try:
        report = await run(request, lambda s: import_items(s, items=[spec], now=now(), policy=policy))
    except errors.CoreError as exc:
        return refused(request, "/admin/catalog", exc)
    notice = t(lang(request), "saved")
    if report.codes_added:
        notice += " · " + t(lang(request), "codes_added", n=report.codes_added)
    return back(f"/admin/catalog/{spec.sku}", notice=notice)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/catalog", page)
    app.router.add_get("/admin/catalog/new", edit)
    app.router.add_post("/admin/catalog/new", save)
    app.router.add_get("/admin/catalog/{sku}", edit)
    app.router.add_post("/admin/catalog/{sku}", save)
