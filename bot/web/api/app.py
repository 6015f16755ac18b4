"""The ``/api/v1`` sub-application: auth, parsing, error shape and the route table."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.web.api.auth import TOKEN, authenticate
from bot.web.api.errors import ApiError, core_error, error_response
from bot.web.api.framework import (
    Ctx,
    Empty,
    Reply,
    Route,
    RouteTable,
    idempotency_key,
    parse_json,
    parse_query,
    run_once,
)
from bot.web.api.openapi import document
from cards.texts import Locale
from core.db import Database
from core.errors import CoreError
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen.api")
PREFIX = "/api/v1"
_STATUS_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                 413: "too_large", 415: "unsupported_media_type"}


def _lang(request: web.Request) -> Locale:
    return "zh" if request.headers.get("Accept-Language", "").lower().startswith("zh") else "en"


@web.middleware
async def error_shape(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    """Every refusal in one shape; aiohttp's own (404, 405, 413) included; never a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except CoreError as exc:
        err = core_error(exc, _lang(request))
        return error_response(err.status, err.code, err.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, "error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("admin API %s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


async def _body(route: Route, request: web.Request) -> tuple[Any, bytes]:
    raw = await request.read()  # over client_max_size (1 MiB): HTTPRequestEntityTooLarge → 413
    if route.body_media != "application/json":
        return Empty(), raw
    return parse_json(route.body or Empty, raw), raw


def _endpoint(route: Route, db: Database, policy: Policy
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        actor = await authenticate(request)
        query = parse_query(route, request)
        body, raw = await _body(route, request)
        ctx: Ctx[Any, Any] = Ctx(actor=actor, query=query, body=body, raw=raw,
                                 params=dict(request.match_info), now=utcnow(), policy=policy,
                                 lang=_lang(request), idempotency_key=idempotency_key(request))
        reply = await run_once(db, request, ctx, route)
        return _response(reply)

    return handle


def _response(reply: Reply) -> web.StreamResponse:
    if reply.content_type == "application/json":
        return web.json_response(reply.body, status=reply.status)
    return web.Response(text=reply.body, status=reply.status, content_type=reply.content_type,
                        charset="utf-8")


def build_api(table: RouteTable, *, db: Database, policy: Policy, token: str | None
              ) -> web.Application:
    api = web.Application(middlewares=[error_shape])
    if token:
        api[TOKEN] = token
    for route in table.routes:
        api.router.add_route(route.method, route.path, _endpoint(route, db, policy))
    spec = document(table, prefix=PREFIX)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(spec)

    api.router.add_get("/openapi.json", openapi)
    return api
