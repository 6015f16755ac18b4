"""``GET``/``POST /wecom/callback``: verify, parse, hand one neutral event to ``feed``, ack.

WeCom drops the connection after 5 s and redelivers up to three times (platforms.md §3.4), so
the handler waits for ``feed`` at most ``ack_budget`` seconds and then answers an empty 200
anyway; the work goes on in a tracked task and replies leave through ``message/send``. Every
refusal (4xx) happens before ``feed`` is called, so it changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platforms.wecom.crypto import (
    MalformedError,
    ReplayError,
    SignatureError,
    WeComCrypto,
    WeComCryptoError,
)
from bot.platforms.wecom.parse import parse_event
from bot.runtime.events import Event

log = logging.getLogger("jifen.wecom")

Feed = Callable[[Event], Awaitable[object]]
"""The dispatcher entry point; its return value (a reply) is not used: replies go via the API."""

CALLBACK_PATH = "/wecom/callback"
MAX_BODY = 1024 * 1024  # SPEC §6/§8: bodies above 1 MiB are refused with 413
ACK_BUDGET_S = 3.0  # well inside WeCom's 5 s (platforms.md §3.4)
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("wecom_tasks", set[asyncio.Task[object]])


class WeComCallback:
    """The two handlers, bound to one crypto and one ``feed``."""

    def __init__(self, *, crypto: WeComCrypto, feed: Feed, tasks: set[asyncio.Task[object]],
                 ack_budget: float = ACK_BUDGET_S, max_body: int = MAX_BODY) -> None:
        self._crypto = crypto
        self._feed = feed
        self._tasks = tasks
        self._ack_budget = ack_budget
        self._max_body = max_body

    async def verify_url(self, request: web.Request) -> web.Response:
        """URL verification: answer the bare decrypted ``echostr`` (platforms.md §3.1)."""
        try:
            sig, ts, nonce, echostr = _query(request, "msg_signature", "timestamp", "nonce",
                                             "echostr")
            plain = self._crypto.verify_url(sig, ts, nonce, echostr)
        except WeComCryptoError as exc:
            return _refuse(exc)
        return web.Response(text=plain, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Encrypted message/event: refuse (4xx) or feed and ack with an empty 200."""
        body = await _read_limited(request, self._max_body)
        if body is None:
            log.warning("wecom: callback body over %d bytes refused", self._max_body)
            return web.Response(status=413)
        try:
            sig, ts, nonce = _query(request, "msg_signature", "timestamp", "nonce")
            event = parse_event(self._crypto.decrypt(body, sig, ts, nonce))
        except WeComCryptoError as exc:
            return _refuse(exc)
        if event is not None and not await self._feed_within_budget(event):
            # Non-200 makes WeCom redeliver (§3.4); the dispatcher dedupes by MsgId/event_id,
            # so a retry after a rolled-back attempt is safe and nothing is lost silently.
            return web.Response(status=500)
        return web.Response(status=200)  # WeCom documents an empty body as "received" (§3.4)

    async def _feed_within_budget(self, event: Event) -> bool:
        """False only if ``feed`` failed inside the budget; slow work counts as accepted."""
        task: asyncio.Task[object] = asyncio.ensure_future(self._feed(event))
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        try:
            # shield: on timeout only the wait ends; the work itself must finish.
            await asyncio.wait_for(asyncio.shield(task), self._ack_budget)
        except TimeoutError:
            log.info("wecom: feed still running after %.1fs; acked, continuing", self._ack_budget)
        except Exception:
            return False  # logged by _forget
        return True

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("wecom: feed failed", exc_info=task.exception())


def setup_routes(app: web.Application, *, crypto: WeComCrypto, feed: Feed,
                 path: str = CALLBACK_PATH, ack_budget: float = ACK_BUDGET_S) -> WeComCallback:
    """Mount the callback on ``app`` and make app shutdown wait for / cancel pending work."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = set()
        # on_shutdown runs before on_cleanup, i.e. before the database is disposed.
        app.on_shutdown.append(_drain_tasks)
    callback = WeComCallback(crypto=crypto, feed=feed, tasks=app[TASKS_KEY],
                             ack_budget=ack_budget)
    app.router.add_get(path, callback.verify_url)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    tracked: set[asyncio.Task[object]] = app[TASKS_KEY]
    tasks = set(tracked)  # a copy: done callbacks shrink the original while we wait
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(BaseException):
            await task


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it exceeds ``limit`` (checked while streaming, not trusted
    from Content-Length alone, so chunked uploads are capped too)."""
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


def _query(request: web.Request, *names: str) -> tuple[str, ...]:
    values = tuple(request.query.get(name, "") for name in names)
    if not all(values):
        raise MalformedError("missing query parameter")
    return values


def _refuse(exc: WeComCryptoError) -> web.Response:
    status = 403 if isinstance(exc, SignatureError | ReplayError) else 400
    log.warning("wecom: callback refused (%d): %s", status, exc)
    return web.Response(status=status)
