"""``POST /dingtalk/callback``: the HTTP-mode robot (``JIFEN_DINGTALK_MODE=http``).

Order of checks, each refusal before anything is fed (so a refused request changes nothing):
size (413) → ``timestamp``/``sign`` headers (403, platforms.md §2.8) → JSON and its shape (400:
bad JSON, nesting too deep for the parser, ids that are not ids, ``atUsers: 5`` …) → replay (403).
A valid request is acked with 200 at once and fed in a tracked task ("verify, ack fast, then
work"): replies leave through the sessionWebhook or the OpenAPI, never in this response.

Replay: the signature covers only the timestamp, not the body (§2.8), so a captured
``timestamp``/``sign`` pair would carry any body for the hour it stays fresh. Each pair is
therefore accepted once: its digest goes into the database (``seen_requests``, primary key), which
every replica shares; the retention job deletes it once the pair is stale anyway. If the database
cannot be asked, the answer is 503 and nothing is recorded, so a retry can still get through.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from bot.platforms.base import TaskSet, read_limited
from bot.platforms.dingtalk.parse import parse_payload
from bot.platforms.dingtalk.signature import MAX_SKEW_MS, verify_callback
from bot.runtime.events import Event
from core.db import Database
from core.retention import first_use

log = logging.getLogger("jifen.dingtalk")

Feed = Callable[[Event], Awaitable[object]]
FirstUse = Callable[[str, datetime], Awaitable[bool]]
"""``(key, expires_at) → True`` the first time a key is offered on any replica, else False."""
CALLBACK_PATH = "/dingtalk/callback"
MAX_BODY = 1024 * 1024  # SPEC §6: request bodies above 1 MiB are refused
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("dingtalk_http_tasks", TaskSet)


class DingTalkCallback:
    def __init__(self, *, app_secret: str, feed: Feed, first_use: FirstUse, tasks: TaskSet,
                 max_body: int = MAX_BODY, robot_names: tuple[str, ...] = ()) -> None:
        self._secret = app_secret
        self._feed = feed
        self._first_use = first_use
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
        refusal = await self._claim(timestamp, signature)
        if refusal is not None:
            return refusal
        if event is not None:
            self._tasks.spawn(self._feed(event))
        return web.json_response({})

    async def _claim(self, timestamp: str, signature: str) -> web.Response | None:
        """None if this ``timestamp``/``sign`` pair is new; else the refusal to answer."""
        key = hashlib.sha256(f"{timestamp}\n{signature}".encode()).hexdigest()
        expires = datetime.fromtimestamp((int(timestamp) + MAX_SKEW_MS) / 1000, UTC)
        try:
            if await self._first_use(key, expires):
                return None
        except Exception:  # noqa: BLE001 - the database is down: let DingTalk try again
            log.exception("dingtalk: replay check failed")
            return web.Response(status=503)
        log.warning("dingtalk: replayed timestamp/sign pair refused")
        return web.Response(status=403)


def database_first_use(db: Database) -> FirstUse:
    """The replay guard every replica shares: a row per accepted pair (core.retention)."""
    async def check(key: str, expires_at: datetime) -> bool:
        return await first_use(db, key, expires_at=expires_at)

    return check


def setup_routes(app: web.Application, *, app_secret: str, feed: Feed, first_use: FirstUse,
                 path: str = CALLBACK_PATH, robot_names: tuple[str, ...] = ()) -> DingTalkCallback:
    """Mount the callback; app shutdown waits up to 5 s for in-flight work, then cancels it."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = TaskSet(log, "dingtalk")
        app.on_shutdown.append(_drain_tasks)  # before on_cleanup disposes the database
    callback = DingTalkCallback(app_secret=app_secret, feed=feed, first_use=first_use,
                                tasks=app[TASKS_KEY], robot_names=robot_names)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    await app[TASKS_KEY].drain(SHUTDOWN_GRACE_S)
