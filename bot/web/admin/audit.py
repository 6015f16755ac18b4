"""审计 Audit log. The audit log lives in ``core.audit`` (built separately); until it is merged
this page reads through ``load_entries`` alone, which says "not available"."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.admin.common import render, staff
from bot.web.base import run


async def load_entries(request: web.Request, *, since: str | None) -> list[Any] | None:
    """Audit entries newest first, or None when this build has no audit log."""
    try:
        from core import audit  # type: ignore[attr-defined]
    except ImportError:
        return None
    return await run(request, lambda s: audit.service.entries(s, since=since))  # pragma: no cover


@staff
async def page(request: web.Request) -> web.StreamResponse:
    entries = await load_entries(request, since=request.query.get("since"))
    return render(request, "audit.html", {"entries": entries})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/audit", page)
