"""What every mall page shares: the session check, rendering, redirects, small form helpers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.web.auth.sessions import USER_KEY, csrf_passes, load_user, user_of
from bot.web.base import lang_of_request, message_page, page_context, remember_lang
from cards.texts import Locale

MAX_QTY = 99
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def mall(handler: Handler) -> Handler:
    """A live mall session (any active employee) and, on changes, the CSRF token. Without a
    session: inside WeCom or DingTalk straight to their sign-in, elsewhere a page saying how."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        user = await load_user(request, "mall")
        if user is None:
            return _not_signed_in(request)
        request[USER_KEY] = user
        if request.method not in ("GET", "HEAD") and not await csrf_passes(request, user):
            return message_page(request, "csrf_refused", status=403)
        return await handler(request)

    return wrapper


def _not_signed_in(request: web.Request) -> web.Response:
    agent = request.headers.get("User-Agent", "")
    if request.method == "GET":
        # the in-app browsers say who they are: wxwork/… (WeCom), DingTalk/… (DingTalk)
        if "wxwork" in agent:
            return web.Response(status=303, headers={"Location": "/m/auth/wecom"})
        if "DingTalk" in agent:
            return web.Response(status=303, headers={"Location": "/m/auth/dingtalk"})
    return message(request, "m_signin_title", "m_signin_hint", status=401)


def message(request: web.Request, title: str, text: str, *, status: int) -> web.Response:
    """A short mall page: a title and one line (WEB_TEXTS keys)."""
    context = page_context(request) | {"title_key": title, "text_key": text}
    return aiohttp_jinja2.render_template("mall/message.html", request, context, status=status)


def me(request: web.Request) -> str:
    return user_of(request).me


def lang(request: web.Request) -> Locale:
    return lang_of_request(request)


def render(request: web.Request, template: str, context: dict[str, Any], *,
           status: int = 200) -> web.Response:
    context.setdefault("notice", request.query.get("notice"))
    context.setdefault("problem", request.query.get("problem"))
    context.setdefault("nonce", secrets.token_urlsafe(12))
    response = aiohttp_jinja2.render_template(f"mall/{template}", request,
                                              page_context(request) | context, status=status)
    remember_lang(request, response)
    return response


def see_other(path: str, **query: str) -> web.Response:
    """Post/redirect/get: a reload never repeats the change."""
    clean = {k: v for k, v in query.items() if v}
    location = f"{path}?{urlencode(clean)}" if clean else path
    return web.Response(status=303, headers={"Location": location})


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def small_int(value: str | None, *, default: int | None = None) -> int | None:
    """A positive number as typed (at most 9 digits), else ``default``."""
    text = (value or "").strip()
    return int(text) if text.isdigit() and 0 < len(text) < 10 else default
