"""Helpers shared by console pages: rendering with a notice, redirects after a change, forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth.sessions import signed_in
from bot.web.base import core_error_text, lang_of_request, now, page_context, remember_lang
from cards.texts import Locale, t
from core.errors import CoreError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
staff = signed_in("admin", staff=True)


def render(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    context.setdefault("notice", request.query.get("notice"))
    context.setdefault("problem", request.query.get("problem"))
    response = aiohttp_jinja2.render_template(f"admin/{template}", request,
                                              page_context(request) | context)
    remember_lang(request, response)
    return response


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def back(path: str, **query: str) -> web.Response:
    """Post/redirect/get: a reload never repeats the change."""
    clean = {k: v for k, v in query.items() if v}
    return see_other(f"{path}?{urlencode(clean)}" if clean else path)


def refused(request: web.Request, path: str, exc: CoreError) -> web.Response:
    return back(path, problem=core_error_text(request, exc))


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def int_field(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def lang(request: web.Request) -> Locale:
    return lang_of_request(request)


def age_text(request: web.Request) -> Callable[[datetime], str]:
    """How long something has waited, in hours under two days, else days."""
    language = lang(request)

    def age(since: datetime) -> str:
        hours = max(int((now() - since).total_seconds() // 3600), 0)
        if hours < 48:
            return t(language, "hours", n=hours)
        return t(language, "days", n=hours // 24)

    return age


def script_json(data: Any) -> str:
    """JSON safe to inline in a <script> (no "</script>" can close it early)."""
    import json

    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
