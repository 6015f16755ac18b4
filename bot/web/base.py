"""What every web page shares: the language, the secret key, the unit of work, error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import DB_KEY, POLICY_KEY, SETTINGS_KEY
from cards.texts import Locale, error_text, problem_text, t
from config.settings import Settings
from core.db import Database
from core.errors import CoreError
from core.models import Employee, utcnow
from core.policy import Policy
from core.problems import CellProblem
from core.signin.service import Signed, csrf_token, secret_key

T = TypeVar("T")
LANG_COOKIE = "jifen_lang"


class KeyHolder:
    """The secret key, read from settings or the database once (it never changes afterwards)."""

    def __init__(self) -> None:
        self.value: str | None = None


KEY_HOLDER = web.AppKey("secret_key_holder", KeyHolder)


@dataclass(frozen=True)
class WebUser:
    """The signed-in person of a request: their session and who they are now."""

    signed: Signed
    session_id: str

    @property
    def employee(self) -> Employee:
        return self.signed.employee

    @property
    def me(self) -> str:
        return self.signed.employee.employee_id


USER_KEY: web.RequestKey[WebUser] = web.RequestKey("web_user", WebUser)


def db_of(request: web.Request) -> Database:
    return request.config_dict[DB_KEY]


def policy_of(request: web.Request) -> Policy:
    return request.config_dict[POLICY_KEY]


def settings_of(request: web.Request) -> Settings:
    return request.config_dict[SETTINGS_KEY]


def now() -> datetime:
    return utcnow()


async def key_of(request: web.Request) -> str:
    holder = request.config_dict[KEY_HOLDER]
    if holder.value is None:
        configured = settings_of(request).secret_key
        raw = configured.get_secret_value() if configured else None
        holder.value = await db_of(request).run(lambda s: secret_key(s, raw))
    return holder.value


async def run(request: web.Request, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return await db_of(request).run(fn)


def signed_of(request: web.Request) -> Signed | None:
    user = request.get(USER_KEY)
    return user.signed if user is not None else None


def csrf_of(request: web.Request) -> str:
    """The CSRF token for forms; it is derived from the session id (never stored)."""
    user = request.get(USER_KEY)
    holder = request.app.get(KEY_HOLDER)
    if user is None or holder is None or holder.value is None:
        return ""
    return csrf_token(holder.value, user.session_id)


def lang_of_request(request: web.Request) -> Locale:
    wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if wanted in ("zh", "en"):
        return "en" if wanted == "en" else "zh"
    user = signed_of(request)
    if user is not None:
        return "en" if (user.employee.locale or "").startswith("en") else "zh"
    accept = request.headers.get("Accept-Language", "")
    return "en" if accept.lower().startswith("en") else "zh"


def page_context(request: web.Request) -> dict[str, Any]:
    """What every template may use; built at render time, after the handler knows the user."""
    lang = lang_of_request(request)

    def _(key: str, **params: Any) -> str:
        return t(lang, key, **params)

    zone = ZoneInfo(policy_of(request).timezone)

    def when(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return at.astimezone(zone).strftime(fmt) if at is not None else ""

    def static(name: str) -> str:
        return str(request.app.router["static"].url_for(filename=name))

    def refusal(exc: CoreError) -> str:
        return error_text(lang, exc)

    def cell_problem(found: CellProblem) -> str:
        return problem_text(lang, found)

    return {"_": _, "lang": lang, "user": signed_of(request), "csrf": csrf_of(request),
            "path": request.path, "static": static, "when": when, "refusal": refusal,
            "cell_problem": cell_problem}


def remember_lang(request: web.Request, response: web.StreamResponse) -> None:
    if request.query.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400,
                            samesite="Lax", httponly=True)


def message_page(request: web.Request, title_key: str, *text_keys: str, status: int,
                 ) -> web.Response:
    """A short page: a title and lines, each a WEB_TEXTS / TEXTS key (never a traceback)."""
    lines = [k for k in text_keys if k]
    context = page_context(request) | {"title_key": title_key, "lines": lines}
    return aiohttp_jinja2.render_template("message.html", request, context, status=status)


def core_error_text(request: web.Request, exc: CoreError) -> str:
    return error_text(lang_of_request(request), exc)


def is_https(settings: Settings) -> bool:
    return urlsplit(public_url(settings)).scheme == "https"


def public_url(settings: Settings) -> str:
    """The base of every link jifen sends (JIFEN_PUBLIC_URL, else the listening address)."""
    return (settings.public_url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")
