"""``POST /dingtalk/callback``: the HTTP-mode robot (``JIFEN_DINGTALK_MODE=http``).

Order of checks, each refusal before anything is fed (so a refused request changes nothing):
size (413) → ``timestamp``/``sign`` headers (403, platforms.md §2.8) → JSON and its shape (400:
bad JSON, nesting too deep for the parser, ids that are not ids, ``atUsers: 5`` …) → replay (403).
A valid request is answered 200 once ``feed`` (the inbox's ``accept``) has stored the event —
one short transaction — and the work goes on from the inbox; if it could not be stored the
answer is 503. Replies leave through the sessionWebhook or the OpenAPI, never in this response.

Replay: the signature covers only the timestamp, not the body (§2.8), so a captured
``timestamp``/``sign`` pair would carry any body for the hour it stays fresh. Each pair is
therefore accepted for one request only: its digest goes into the database (``seen_requests``,
primary key), which every replica shares, with a digest of what the request asked for (its
event's key, or the body when it has no event for us); the retention job deletes it once the
pair is stale anyway. The same pair with anything else is refused (403); the identical request
again — DingTalk retrying because our 200 was lost on the way — is answered 200 and changes
nothing (its event is stored under its own key already). The digest is written in the inbox's
own transaction (``feed(event, guard=…)``): the pair is recorded if and only if the event is
stored, so a database failure (503) leaves nothing behind and DingTalk's identical retry gets
through. A body with no event for us records the pair alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from bot.platforms.base import TaskSet, read_limited
from bot.platforms.dingtalk.parse import parse_payload
from bot.platforms.dingtalk.signature import MAX_SKEW_MS, verify_callback
from bot.runtime.events import Event, event_key
from core.db import Database
from core.retention import ReplayedRequest, ReplayGuard, admit

log = logging.getLogger("jifen.dingtalk")



class Feed(Protocol):
    """The inbox's ``accept``: stores ``event`` and ``guard`` in one transaction, or raises
    (ReplayedRequest if the guard was recorded before)."""

    def __call__(self, event: Event, *, guard: ReplayGuard | None = None) -> Awaitable[object]: ...


Admit = Callable[[ReplayGuard], Awaitable[bool]]
"""``guard → True`` the first time its key is offered on any replica (and for the identical
request again), else False."""
CALLBACK_PATH = "/dingtalk/callback"
MAX_BODY = 1024 * 1024  # SPEC §6: request bodies above 1 MiB are refused
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("dingtalk_http_tasks", TaskSet)


class DingTalkCallback:
    def __init__(self, *, app_secret: str, feed: Feed, admit: Admit, tasks: TaskSet,
                 max_body: int = MAX_BODY, robot_names: tuple[str, ...] = ()) -> None:
        self._secret = app_secret
        self._feed = feed
        self._admit = admit
        self._tasks = tasks
        self._max_body = max_body
        self._robot_names = robot_names

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_limited(request, self._max_body)
        if body is None:
            log.warning("dingtalk: callback body over %d bytes refused", self._max_body)
            return web.Response(status=413)
        timestamp, signature = request.headers.get("timestamp"), request.headers.get("sign")
        if not verify_callback(timestamp, signature, self._secret):
            log.warning("dingtalk: callback with a missing, stale or bad signature refused")
            return web.Response(status=403)
        assert timestamp is not None and signature is not None  # verify_callback checked them
        try:
            event = parse_payload(json.loads(body), robot_names=self._robot_names)
        except (ValueError, RecursionError, TypeError) as exc:
            # ValueError: bad JSON or MalformedPayload; RecursionError: nesting deeper than the
            # parser's stack (the probe sent 200,000 levels); TypeError: a shape we did not foresee
            log.warning("dingtalk: malformed callback body refused (%s)", type(exc).__name__)
            return web.Response(status=400)
        guard = _guard(timestamp, signature, event_key(event).encode() if event else body)
        if event is None:  # nothing to store: the pair alone is recorded
            return await self._claim(guard) or web.json_response({})
        try:
            await self._feed(event, guard=guard)  # durable (event and pair) when this returns
        except ReplayedRequest:
            log.warning("dingtalk: replayed timestamp/sign pair refused")
            return web.Response(status=403)
        except Exception:  # noqa: BLE001 - not stored: never a 200 that drops the message
            log.exception("dingtalk: event could not be stored; answering 503")
            return web.Response(status=503)
        return web.json_response({})

    async def _claim(self, guard: ReplayGuard) -> web.Response | None:
        """None if this pair is new (now recorded); else the refusal to answer."""
        try:
            if await self._admit(guard):
                return None
        except Exception:  # noqa: BLE001 - the database is down: let DingTalk try again
            log.exception("dingtalk: replay check failed")
            return web.Response(status=503)
        log.warning("dingtalk: replayed timestamp/sign pair refused")
        return web.Response(status=403)


def _guard(timestamp: str, signature: str, request: bytes) -> ReplayGuard:
    key = hashlib.sha256(f"{timestamp}\n{signature}".encode()).hexdigest()
    return ReplayGuard(key, datetime.fromtimestamp((int(timestamp) + MAX_SKEW_MS) / 1000, UTC),
                       hashlib.sha256(request).hexdigest())


def database_admit(db: Database) -> Admit:
    """The replay guard every replica shares: a row per accepted pair (core.retention)."""
    async def check(guard: ReplayGuard) -> bool:
        return await admit(db, guard)

    return check


def setup_routes(app: web.Application, *, app_secret: str, feed: Feed, admit: Admit,
                 path: str = CALLBACK_PATH, robot_names: tuple[str, ...] = ()) -> DingTalkCallback:
    """Mount the callback; app shutdown waits up to 5 s for in-flight work, then cancels it."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = TaskSet(log, "dingtalk")
        app.on_shutdown.append(_drain_tasks)  # before on_cleanup disposes the database
    callback = DingTalkCallback(app_secret=app_secret, feed=feed, admit=admit,
                                tasks=app[TASKS_KEY], robot_names=robot_names)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    await app[TASKS_KEY].drain(SHUTDOWN_GRACE_S)
