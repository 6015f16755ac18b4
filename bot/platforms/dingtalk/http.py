"""``POST /dingtalk/callback``: the HTTP-mode robot (``JIFEN_DINGTALK_MODE=http``).

Order of checks, each refusal before anything is fed (so a refused request changes nothing):
size (413) → ``timestamp``/``sign`` headers (403, platforms.md §2.8) → JSON (400). A valid
request is acked with 200 at once and fed in a tracked task ("verify, ack fast, then work"):
replies leave through the sessionWebhook or the OpenAPI, never in this response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platforms.dingtalk.parse import parse_payload
from bot.platforms.dingtalk.signature import verify_callback
from bot.runtime.events import Event

log = logging.getLogger("jifen.dingtalk")

Feed = Callable[[Event], Awaitable[object]]
CALLBACK_PATH = "/dingtalk/callback"
MAX_BODY = 1024 * 1024  # SPEC §6: request bodies above 1 MiB are refused
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("dingtalk_http_tasks", set[asyncio.Task[object]])


class DingTalkCallback:
    def __init__(self, *, app_secret: str, feed: Feed, tasks: set[asyncio.Task[object]],
                 max_body: int = MAX_BODY, robot_names: tuple[str, ...] = ()) -> None:
        self._secret = app_secret
        self._feed = feed
        self._tasks = tasks
        self._max_body = max_body
        self._robot_names = robot_names

    async def receive(self, request: web.Request) -> web.Response:
        body = await _read_limited(request, self._max_body)
        if body is None:
            log.warning("dingtalk: callback body over %d bytes refused", self._max_body)
            return web.Response(status=413)
        if not verify_callback(request.headers.get("timestamp"), request.headers.get("sign"),
                               self._secret):
            log.warning("dingtalk: callback with a missing, stale or bad signature refused")
            return web.Response(status=403)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        event = parse_payload(data, robot_names=self._robot_names)
        if event is not None:
            self._spawn(event)
        return web.json_response({})

    def _spawn(self, event: Event) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(self._feed(event))
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dingtalk: feed failed", exc_info=task.exception())


def setup_routes(app: web.Application, *, app_secret: str, feed: Feed,
                 path: str = CALLBACK_PATH, robot_names: tuple[str, ...] = ()) -> DingTalkCallback:
    """Mount the callback; app shutdown waits up to 5 s for in-flight work, then cancels it."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = set()
        app.on_shutdown.append(_drain_tasks)  # before on_cleanup disposes the database
    callback = DingTalkCallback(app_secret=app_secret, feed=feed, tasks=app[TASKS_KEY],
                                robot_names=robot_names)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    tracked: set[asyncio.Task[object]] = app[TASKS_KEY]
    await drain(set(tracked), SHUTDOWN_GRACE_S)  # a copy: done callbacks shrink the original


async def drain(tasks: set[asyncio.Task[object]], grace: float) -> None:
    """Let ``tasks`` finish for ``grace`` seconds, then cancel what is left."""
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(BaseException):
            await task


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` above ``limit`` (counted while streaming: chunked bodies too)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
