"""The session cookie, the signed-in user of a request, and the CSRF check.

Every request re-reads the session row, the employee and their roles (``session_employee``), so
a deactivated employee or a removed role stops working on the next click, on every replica.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from bot.web.api.auth import SessionUser
from bot.web.base import (
    USER_KEY,
    WebUser,
    is_https,
    key_of,
    lang_of_request,
    message_page,
    now,
    run,
    settings_of,
)
from cards.texts import Locale
from core.signin.service import SESSION_HOURS, csrf_ok, session_employee

COOKIE = "jifen_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]




def set_cookie(request: web.Request, response: web.StreamResponse, session_id: str, kind: str) -> None:
    response.set_cookie(COOKIE, session_id, max_age=SESSION_HOURS[kind] * 3600, path="/",
                        httponly=True, samesite="Lax", secure=is_https(settings_of(request)))


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def load_user(request: web.Request, kind: str) -> WebUser | None:
    raw = request.cookies.get(COOKIE, "")
    if not raw:
        return None
    key = await key_of(request)
    signed = await run(request, lambda s: session_employee(s, session_id=raw, kind=kind, key=key,
                                                          now=now()))
    return WebUser(signed, raw) if signed is not None else None


async def csrf_passes(request: web.Request, user: WebUser) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                  "multipart/form-data"):
        given = str((await request.post()).get(CSRF_FIELD, ""))
    return csrf_ok(await key_of(request), user.session_id, given)


def signed_in(kind: str, *, staff: bool) -> Callable[[Handler], Handler]:
    """Require a live session of ``kind`` (and hr / admin when ``staff``); check CSRF on changes."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = await load_user(request, kind)
            if user is None:
                return message_page(request, "signed_out", "signin_again", status=401)
            request[USER_KEY] = user
            if staff and not user.signed.is_staff:
                return message_page(request, "forbidden_page", "signin_again", status=403)
            if request.method not in ("GET", "HEAD") and not await csrf_passes(request, user):
                return message_page(request, "csrf_refused", status=403)
            return await handler(request)

        return wrapper

    return decorate


def user_of(request: web.Request) -> WebUser:
    return request[USER_KEY]


def lang(request: web.Request) -> Locale:
    return lang_of_request(request)


async def api_session(request: web.Request) -> SessionUser | None:
    """A console session calling the admin API: roles as read now, CSRF from the header."""
    user = await load_user(request, "admin")
    if user is None:
        return None
    given = request.headers.get(CSRF_HEADER)
    return SessionUser(user.me, user.signed.roles,
                       csrf_ok(await key_of(request), user.session_id, given))
