"""商品 Catalog: list, create and edit items, stock (restock), code pools (paste or upload; codes
are never shown again, only counted), availability windows, deactivate. Every change goes through
the catalog importer (``import_items``) with a validated ``ItemSpec``, like ``jifen catalog import``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import Typed, back, lang, refill, refused, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.texts import t
from core import errors
from core.catalog.importer import (
    CatalogImportReport,
    ItemSpec,
    create_item,
    import_items,
    item_refusal,
)
from core.catalog.service import all_items, unassigned_codes
from core.models import CatalogItem
from core.policy import Policy

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


async def _form_page(request: web.Request, sku: str) -> dict[str, Any] | None:
    """The item form's context: a new item (no ``sku``) or a stored one; None if it is unknown."""
    item, codes_left = await run(request, lambda s: _one(s, sku)) if sku else (None, 0)
    return None if sku and item is None else {"item": item, "codes_left": codes_left}


@staff
async def edit(request: web.Request) -> web.StreamResponse:
    sku = request.match_info.get("sku", "")
    context = await _form_page(request, sku)
    if context is None:
        return refused(request, "/admin/catalog", errors.UnknownItem(sku=sku))
    return render(request, "catalog_item.html", context)


def _spec(data: MultiMapping[Any], sku: str, codes: list[str]) -> ItemSpec:
    """The submitted item, validated; an edit keeps the SKU of its page."""
    spec: dict[str, Any] = {k: str(data.get(k, "")).strip() for k in FIELDS}
    spec["sku"] = sku or spec["sku"]
    spec["requires_approval"] = "true" if data.get("requires_approval") else "false"
    spec["codes"] = codes
    spec["active"] = data.get("active", "1") != "0"
    try:
        return ItemSpec.model_validate(
            {k: v for k, v in spec.items() if v != "" or k in ("sku", "name", "points")})
    except ValidationError as exc:
        raise item_refusal(exc) from None


async def _codes(data: MultiMapping[Any]) -> list[str]:
    lines = str(data.get("codes", "")).splitlines()
    upload = data.get("codes_file")
    if isinstance(upload, web.FileField):
        lines += upload.file.read(MAX_CODES_FILE).decode("utf-8", errors="replace").splitlines()
    return [c.strip() for c in lines if c.strip()]


async def _store(s: AsyncSession, spec: ItemSpec, *, new: bool, actor_id: str,
                 policy: Policy) -> CatalogImportReport:
    """The new-item form creates (refused if the SKU is taken); an item's page updates it."""
    if new:
        return await create_item(s, spec=spec, now=now(), policy=policy, actor_id=actor_id)
    return await import_items(s, items=[spec], now=now(), policy=policy, actor_id=actor_id)


@staff
async def save(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    sku, me, policy = request.match_info.get("sku", ""), user_of(request).me, policy_of(request)
    try:
        spec = _spec(data, sku, await _codes(data))
        report = await run(request, lambda s: _store(s, spec, new=not sku, actor_id=me,
                                                      policy=policy))
    except errors.CoreError as exc:
        context = await _form_page(request, sku)
        if context is None:
            return refused(request, "/admin/catalog", exc)
        return refill(request, "catalog_item.html", context, Typed.of(data), exc)
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
