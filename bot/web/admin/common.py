"""Helpers shared by console pages: rendering with a notice, redirects after a change, forms,
and a refused form shown again with everything that was typed in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from bot.web.api.errors import status_of
from bot.web.auth.sessions import signed_in
from bot.web.base import core_error_text, lang_of_request, now, page_context, remember_lang
from cards.texts import Locale, t
from core.errors import CoreError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
staff = signed_in("admin", staff=True)


@dataclass(frozen=True)
class Typed:
    """What was typed into a form the server refused, for its page to show again: every field
    keeps its value, so only the wrong one needs fixing. ``NOT_TYPED`` (a fresh page) gives each
    field its default (the stored value, or empty). ``form_id`` tells a page's forms apart."""

    fields: Mapping[str, tuple[str, ...]] | None = None
    form_id: str = ""

    @classmethod
    def of(cls, data: MultiMapping[Any], form_id: str = "") -> Typed:
        """From a posted form (files are left out: a browser never refills them)."""
        return cls({k: tuple(v for v in data.getall(k) if isinstance(v, str)) for k in set(data)},
                   form_id)

    def value(self, name: str, default: object = "") -> str:
        if self.fields is None:
            return "" if default is None else str(default)
        return next(iter(self.fields.get(name, ())), "")

    def checked(self, name: str, value: str, default: object = False) -> bool:
        """A checkbox: ticked when submitted ticked (on a fresh page: ``default``)."""
        return bool(default) if self.fields is None else value in self.fields.get(name, ())

    def form(self, form_id: str) -> Typed:
        """This, for the form it came from; ``NOT_TYPED`` for the page's other forms."""
        return self if form_id == self.form_id else NOT_TYPED


NOT_TYPED = Typed()


def render(request: web.Request, template: str, context: dict[str, Any], *,
           status: int = 200) -> web.Response:
    context.setdefault("notice", request.query.get("notice"))
    context.setdefault("problem", request.query.get("problem"))
    context.setdefault("typed", NOT_TYPED)
    response = aiohttp_jinja2.render_template(f"admin/{template}", request,
                                              page_context(request) | context, status=status)
    remember_lang(request, response)
    return response


def refill(request: web.Request, template: str, context: dict[str, Any], typed: Typed,
           exc: CoreError) -> web.Response:
    """A refused form's page again: the refusal in the reader's language, every field as typed,
    the API's status for that refusal (422 for bad input; nothing was changed)."""
    return render(request, template, context | {"typed": typed,
                                                "problem": core_error_text(request, exc)},
                  status=status_of(exc))


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
