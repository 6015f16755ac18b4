"""``POST /dingtalk/callback``: the HTTP-mode robot (``JIFEN_DINGTALK_MODE=http``).

Order of checks, each refusal before anything is fed (so a refused request changes nothing):
size (413) → ``timestamp``/``sign`` headers (403, platforms.md §2.8) → JSON (400). A valid
request is acked with 200 at once and fed in a tracked task ("verify, ack fast, then work"):
replies leave through the sessionWebhook or the OpenAPI, never in this response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platforms.base import TaskSet, read_limited
from bot.platforms.dingtalk.parse import parse_payload
from bot.platforms.dingtalk.signature import verify_callback
from bot.runtime.events import Event

log = logging.getLogger("jifen.dingtalk")

Feed = Callable[[Event], Awaitable[object]]
CALLBACK_PATH = "/dingtalk/callback"
MAX_BODY = 1024 * 1024  # SPEC §6: request bodies above 1 MiB are refused
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("dingtalk_http_tasks", TaskSet)


class DingTalkCallback:
    def __init__(self, *, app_secret: str, feed: Feed, tasks: TaskSet,
                 max_body: int = MAX_BODY, robot_names: tuple[str, ...] = ()) -> None:
        self._secret = app_secret
        self._feed = feed
        self._tasks = tasks
        self._max_body = max_body
        self._robot_names = robot_names

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_limited(request, self._max_body)
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
            self._tasks.spawn(self._feed(event))
        return web.json_response({})


def setup_routes(app: web.Application, *, app_secret: str, feed: Feed,
                 path: str = CALLBACK_PATH, robot_names: tuple[str, ...] = ()) -> DingTalkCallback:
    """Mount the callback; app shutdown waits up to 5 s for in-flight work, then cancels it."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = TaskSet(log, "dingtalk")
        app.on_shutdown.append(_drain_tasks)  # before on_cleanup disposes the database
    callback = DingTalkCallback(app_secret=app_secret, feed=feed, tasks=app[TASKS_KEY],
                                robot_names=robot_names)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    await app[TASKS_KEY].drain(SHUTDOWN_GRACE_S)
