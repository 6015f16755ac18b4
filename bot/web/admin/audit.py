"""审计 Audit log: the latest entries, filterable by actor, action and day."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from bot.web.admin.common import render, staff
from bot.web.base import run
from core.audit.service import AuditFilter, AuditView, entries

PAGE = 200


def _since(raw: str | None) -> datetime | None:
    """``YYYY-MM-DD`` from the filter form; anything else is ignored rather than an error page."""
    try:
        return datetime.strptime(raw or "", "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


async def load_entries(request: web.Request) -> list[AuditView]:
    q = request.query
    where = AuditFilter(since=_since(q.get("since")), actor=q.get("actor") or None,
                        action=q.get("action") or None)
    return await run(request, lambda s: entries(s, where=where, limit=PAGE, newest_first=True))


@staff
async def page(request: web.Request) -> web.StreamResponse:
    return render(request, "audit.html", {"entries": await load_entries(request),
                                          "q": request.query})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/audit", page)
