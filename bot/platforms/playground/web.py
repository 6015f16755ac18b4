"""The web playground: a local chat page at ``/playground`` and its small JSON API.

It goes through the same dispatcher as WeCom and DingTalk and shows the same cards, rendered by
``cards.render_html``, with real buttons that post their action back as a card click.

It is a **local demo tool without authentication**: anybody who can reach it can act as any
employee. It is therefore on by default only when no platform is configured, and the HTTP server
listens on ``127.0.0.1`` unless ``JIFEN_HTTP_HOST`` says otherwise; do not expose it. As a guard
against other web pages driving it from the user's browser, the POST endpoints accept only
``application/json`` bodies (a cross-site form cannot send those without a CORS preflight, which
is never answered) and the page is served with a strict Content-Security-Policy.

API (all JSON; errors are ``{"error": "…"}`` with status 400/415):

- ``GET  /playground/api/employees`` → ``{"employees": [{employee_id, name, department, roles}]}``
- ``POST /playground/api/send  {"as": "E004", "text": "积分"}`` → ``{"cards": [card…]}``
- ``POST /playground/api/click {"as": "E006", "action": "cr:AB12"}`` → ``{"cards": [card…]}``
- ``POST /playground/api/mall {"as": "E004"}`` → ``{"url": …}``: a one-time sign-in link to the
  employee mall ``/m`` as that employee.
- ``GET  /playground/api/inbox?as=E003`` → ``{"cards": [card…]}``: pushes delivered since the
  last poll (the outbox worker puts them into the in-memory ``PlaygroundInbox``).

Each card is ``cards.serialize.card_to_dict`` plus ``"html"``, its escaped HTML fragment.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.platforms.playground.inbox import PlaygroundInbox
from bot.runtime.events import Event, playground_event
from cards.model import Card
from cards.render_html import render_html
from cards.serialize import card_from_dict, card_to_dict
from core.db import Database
from core.directory.service import active_with_roles
from core.models import Employee

STATIC_DIR = Path(__file__).resolve().parent / "static"
# characters the API takes: well above the bot's own limit for a chat message (2,000), which
# the bot refuses with a sentence stating it; nothing is cut here or in the page
MAX_TEXT = 20_000
MAX_ACTION = 200  # characters of a button payload
Handler = Callable[[web.Request], Awaitable[web.Response]]
MallLink = Callable[[str], Awaitable[str]]
Linker = Callable[[str | None, Card], Awaitable[Card]]  # (employee or None for a group, card)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class BadRequest(Exception):
    """Invalid input: answered with 400 (or ``status``) and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def card_json(card: Card) -> dict[str, Any]:
    return {**card_to_dict(card), "html": render_html(card)}


def _string(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{key}' is required (a non-empty string)")
    if len(value) > limit:
        raise BadRequest(f"'{key}' is longer than {limit} characters")
    return value


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadRequest("the body must be application/json", status=415)
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


Feed = Callable[[Event], Awaitable[list[Card]]]  # the dispatcher's feed: the answer's cards


class PlaygroundApi:
    def __init__(self, *, feed: Feed, inbox: PlaygroundInbox, db: Database,
                 mall_link: MallLink | None = None, links: Linker | None = None) -> None:
        self.feed, self.inbox, self.db = feed, inbox, db
        self.mall_link, self.links = mall_link, links

    async def mall(self, request: web.Request) -> web.Response:
        """``{"as": "E004"}`` → ``{"url": …}``: a one-time mall sign-in link for that employee."""
        body = await _json_body(request)
        who = await self._employee(body.get("as"))
        if self.mall_link is None:
            raise BadRequest("the mall is not available", status=404)
        return web.json_response({"url": await self.mall_link(who)})

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={
            "Content-Security-Policy": CSP, "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        })

    async def employees(self, request: web.Request) -> web.Response:
        async with self.db.uow() as s:
            people = await active_with_roles(s)
        rows = [{"employee_id": e.employee_id, "name": e.name, "department": e.department,
                 "roles": sorted(roles)} for e, roles in people]
        return web.json_response({"employees": rows})

    async def send(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        who = await self._employee(body.get("as"))
        text = _string(body, "text", MAX_TEXT)
        return await self._feed(who, text, None)

    async def click(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        who = await self._employee(body.get("as"))
        action = _string(body, "action", MAX_ACTION)
        return await self._feed(who, None, action)

    async def pushes(self, request: web.Request) -> web.Response:
        who = await self._employee(request.query.get("as"))
        cards = [card_json(card_from_dict(c)) for c in self.inbox.take(who)]
        return web.json_response({"cards": cards})

    async def _feed(self, who: str, text: str | None, action: str | None) -> web.Response:
        event = playground_event(who, text, action=action, message_id=uuid.uuid4().hex)
        cards = await self.feed(event)
        if self.links is not None:  # the playground is its own delivery: 打开商城 as it is shown
            cards = [await self.links(who, card) for card in cards]
        return web.json_response({"cards": [card_json(c) for c in cards]})

    async def _employee(self, value: Any) -> str:
        """The ``as`` employee id, which must name an active employee."""
        if not isinstance(value, str) or not value.strip():
            raise BadRequest("'as' is required (an employee id)")
        if len(value) > 64:
            raise BadRequest("unknown employee: 'as' is too long")
        async with self.db.uow() as s:
            emp = await s.get(Employee, value)
        if emp is None or not emp.active:
            raise BadRequest(f"unknown employee: {value}")
        return emp.employee_id


def _api(handler: Handler) -> Handler:
    """Answer ``BadRequest`` with a JSON error instead of a traceback page."""
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)

    return wrapped


def setup_routes(app: web.Application, *, feed: Feed, inbox: PlaygroundInbox, db: Database,
                 mall_link: MallLink | None = None, links: Linker | None = None) -> None:
    """Add ``/playground``, its static files and ``/playground/api/…`` to ``app``."""
    api = PlaygroundApi(feed=feed, inbox=inbox, db=db, mall_link=mall_link, links=links)
    app.router.add_get("/playground", api.page)
    app.router.add_get("/playground/", api.page)
    app.router.add_static("/playground/static/", STATIC_DIR, append_version=False)
    app.router.add_get("/playground/api/employees", _api(api.employees))
    app.router.add_post("/playground/api/send", _api(api.send))
    app.router.add_post("/playground/api/click", _api(api.click))
    app.router.add_get("/playground/api/inbox", _api(api.pushes))
    app.router.add_post("/playground/api/mall", _api(api.mall))
