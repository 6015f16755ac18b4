"""A small typed route table for the admin API.

Each route declares its query, body and response pydantic models once; the same declaration
validates requests, serializes responses and generates the OpenAPI document (``openapi.py``).
Every handler runs in one unit of work; for POST / PUT / DELETE with an ``Idempotency-Key`` the
response is stored in that same transaction (``idempotency_keys``, shared by all replicas), so a
repeat gets the first response and the change happens once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.api.errors import ApiError
from core.db import Database
from core.idempotency import recall, remember
from core.policy import Policy

Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)
MUTATING = frozenset({"POST", "PUT", "DELETE"})
MAX_KEY = 150  # stored as ``api:<key>`` in a 200-character column


@dataclass
class Ctx(Generic[Q, B]):
    """What a handler gets: the actor, the validated query and body, the clock and the policy."""

    actor: str
    query: Q
    body: B
    raw: bytes
    params: dict[str, str]
    now: datetime
    policy: Policy
    lang: str
    idempotency_key: str | None


@dataclass
class Reply:
    body: Any
    status: int = 200
    content_type: str = "application/json"


Handler = Callable[[Ctx[Any, Any], AsyncSession], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    status: int = 200
    produces: str = "application/json"
    errors: tuple[int, ...] = (401, 403, 422)


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)

    def add(self, method: str, path: str, *, summary: str, response: type[BaseModel] | None,
            **kw: Any) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes.append(Route(method, path, fn, summary, response, **kw))
            return fn
        return deco


class Empty(BaseModel):
    """No parameters / no body."""


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts, default=str).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from None
    if not isinstance(value, list) or not value:
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned")
    return value


def validation_error(exc: ValidationError, where: str) -> ApiError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    return ApiError(422, "invalid_input", f"{where}{'.' + loc if loc else ''}: {msg}")


def parse_query(route: Route, request: web.Request) -> BaseModel:
    model = route.query or Empty
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def parse_json(model: type[BaseModel], raw: bytes) -> BaseModel:
    if model is Empty and not raw.strip():
        return Empty()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_input", "body: expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method not in MUTATING:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ApiError(422, "invalid_input", f"Idempotency-Key must be 1-{MAX_KEY} printable "
                       "characters")
    return key


async def run_once(db: Database, request: web.Request, ctx: Ctx[Any, Any], route: Route) -> Reply:
    """Run the handler in one unit of work; with an idempotency key, at most once per key."""
    key = ctx.idempotency_key
    fingerprint = f"{request.method} {request.path_qs}"

    async def work(session: AsyncSession) -> Reply:
        if key is not None:
            stored = await recall(session, f"api:{key}")
            if stored is not None:
                if stored.get("request") != fingerprint:
                    raise ApiError(422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for a different request")
                return Reply(stored["body"], int(stored["status"]))
        reply = await route.handler(ctx, session)
        if key is not None:
            await remember(session, f"api:{key}", {"request": fingerprint, "status": reply.status,
                                                   "body": reply.body}, now=ctx.now)
        return reply

    return await db.run(work)
