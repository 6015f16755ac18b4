"""``GET``/``POST /wecom/callback``: verify, parse, hand one neutral event to ``feed``, ack.

WeCom drops the connection after 5 s and redelivers up to three times (platforms.md §3.4), so
the handler waits for ``feed`` at most ``ack_budget`` seconds and then answers an empty 200
anyway; the work goes on in a tracked task and replies leave through ``message/send``. Every
refusal (4xx) happens before ``feed`` is called, so it changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platforms.base import TaskSet, read_limited
from bot.platforms.wecom.crypto import (
    MalformedError,
    ReplayError,
    SignatureError,
    WeComCrypto,
    WeComCryptoError,
)
from bot.platforms.wecom.parse import parse_event
from bot.runtime.events import ContactChange, Event

log = logging.getLogger("jifen.wecom")

Feed = Callable[[Event], Awaitable[object]]
"""The dispatcher entry point; its return value (a reply) is not used: replies go via the API."""
ContactFeed = Callable[[ContactChange], Awaitable[object]]
"""The directory sync's entry point for change_contact events (None: they are ignored)."""

CALLBACK_PATH = "/wecom/callback"
MAX_BODY = 1024 * 1024  # SPEC §6/§8: bodies above 1 MiB are refused with 413
ACK_BUDGET_S = 3.0  # well inside WeCom's 5 s (platforms.md §3.4)
SHUTDOWN_GRACE_S = 5.0
TASKS_KEY = web.AppKey("wecom_tasks", TaskSet)


class WeComCallback:
    """The two handlers, bound to one crypto and one ``feed``."""

    def __init__(self, *, crypto: WeComCrypto, feed: Feed, tasks: TaskSet,
                 ack_budget: float = ACK_BUDGET_S, max_body: int = MAX_BODY,
                 contacts: ContactFeed | None = None) -> None:
        self._crypto = crypto
        self._feed = feed
        self._contacts = contacts
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
        body = await read_limited(request, self._max_body)
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

    async def _feed_within_budget(self, event: Event | ContactChange) -> bool:
        """False only if ``feed`` failed inside the budget; slow work counts as accepted."""
        if isinstance(event, ContactChange):
            if self._contacts is None:
                return True  # directory sync is off: acknowledged and ignored
            task = self._tasks.spawn(self._contacts(event))
        else:
            task = self._tasks.spawn(self._feed(event))
        try:
            # shield: on timeout only the wait ends; the work itself must finish.
            await asyncio.wait_for(asyncio.shield(task), self._ack_budget)
        except TimeoutError:
            log.info("wecom: feed still running after %.1fs; acked, continuing", self._ack_budget)
        except Exception:
            return False  # logged by the task set
        return True


def setup_routes(app: web.Application, *, crypto: WeComCrypto, feed: Feed,
                 path: str = CALLBACK_PATH, ack_budget: float = ACK_BUDGET_S,
                 contacts: ContactFeed | None = None) -> WeComCallback:
    """Mount the callback on ``app`` and make app shutdown wait for / cancel pending work."""
    if TASKS_KEY not in app:
        app[TASKS_KEY] = TaskSet(log, "wecom")
        # on_shutdown runs before on_cleanup, i.e. before the database is disposed.
        app.on_shutdown.append(_drain_tasks)
    callback = WeComCallback(crypto=crypto, feed=feed, tasks=app[TASKS_KEY],
                             ack_budget=ack_budget, contacts=contacts)
    app.router.add_get(path, callback.verify_url)
    app.router.add_post(path, callback.receive)
    return callback


async def _drain_tasks(app: web.Application) -> None:
    await app[TASKS_KEY].drain(SHUTDOWN_GRACE_S)


def _query(request: web.Request, *names: str) -> tuple[str, ...]:
    values = tuple(request.query.get(name, "") for name in names)
    if not all(values):
        raise MalformedError("missing query parameter")
    return values


def _refuse(exc: WeComCryptoError) -> web.Response:
    status = 403 if isinstance(exc, SignatureError | ReplayError) else 400
    log.warning("wecom: callback refused (%d): %s", status, exc)
    return web.Response(status=status)
