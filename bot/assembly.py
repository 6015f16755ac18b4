"""Wires the runtime into the aiohttp app: dispatcher, platforms, outbox worker, scheduler."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.delivery import RATE_LIMITS, Deliverer, PlaygroundInbox
from bot.directory.events import ContactEvents
from bot.directory.wiring import directory_events, directory_jobs
from bot.handlers import build_router
from bot.outbox import OutboxWorker, RateLimiter
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.dingtalk.stream import DingTalkStream
from bot.runtime.dispatcher import Dispatcher
from bot.scheduler import Scheduler
from bot.wiring import outbox_sink
from config.settings import Settings
from core.db import Database
from core.policy import Policy

log = logging.getLogger("jifen")
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
WORKER_KEY = web.AppKey("outbox_worker", OutboxWorker)
INBOX_KEY = web.AppKey("playground_inbox", PlaygroundInbox)
STREAM_KEY = web.AppKey("dingtalk_stream", DingTalkStream)
OUTBOX_TASK_KEY = web.AppKey("outbox_task", asyncio.Task[None])


async def assemble(app: web.Application, settings: Settings, db: Database, policy: Policy, *,
                   background: bool) -> None:
    dispatcher = Dispatcher(db=db, policy=policy, settings=settings, router=build_router(),
                            sink=outbox_sink)
    app[DISPATCHER_KEY] = dispatcher
    inbox = PlaygroundInbox() if settings.playground_enabled else None
    wecom_client = None
    contacts = directory_events(app, settings, db, policy)
    if settings.wecom_enabled:
        from bot.platforms import wecom

        wecom_client = wecom.client_from_settings(settings)
        wecom.setup_routes(app, crypto=wecom.crypto_from_settings(settings), feed=dispatcher.feed,
                           contacts=contacts if settings.directory_sync == "wecom" else None)
        app.on_cleanup.append(lambda _app: wecom_client.close())  # type: ignore[union-attr]
    dingtalk_sender = _dingtalk(app, settings, dispatcher, background=background,
                                contacts=contacts if settings.directory_sync == "dingtalk" else None)
    if inbox is not None:
        app[INBOX_KEY] = inbox
        await _playground(app, settings, db, policy, dispatcher, inbox)
    deliverer = Deliverer(db, policy, wecom=wecom_client, dingtalk=dingtalk_sender, playground=inbox)
    worker = OutboxWorker(db, deliverer.send, rate_key=deliverer.rate_key,
                          limiter=RateLimiter(RATE_LIMITS))
    app[WORKER_KEY] = worker
    from bot.web import setup_web

    setup_web(app)
    if background:
        _start_background(app, worker, Scheduler(db, policy, extra=directory_jobs(
            settings, db, policy)))


def _dingtalk(app: web.Application, settings: Settings, dispatcher: Dispatcher, *,
              background: bool, contacts: ContactEvents | None) -> DingTalkSender | None:
    if not settings.dingtalk_enabled:
        return None
    from bot.platforms import dingtalk

    client = dingtalk.client_from_settings(settings)
    app.on_cleanup.append(lambda _app: client.close())
    if settings.dingtalk_mode == "http":
        dingtalk.setup_routes(app, app_secret=dingtalk.app_secret(settings), feed=dispatcher.feed,
                              first_use=dingtalk.database_first_use(dispatcher.db))
        # card clicks arrive only over Stream (callbackType STREAM): HTTP mode uses markdown cards
        # whose buttons are printed as text commands
        return DingTalkSender(client, card_template_id=None)
    stream = dingtalk.stream_from_settings(settings, feed=dispatcher.feed, contacts=contacts)
    app[STREAM_KEY] = stream
    if background:
        app.on_startup.append(lambda _app: stream.start())
        app.on_shutdown.append(lambda _app: stream.stop())  # before the database closes
    return dingtalk.sender_from_settings(settings, client)


async def _playground(app: web.Application, settings: Settings, db: Database, policy: Policy,
                      dispatcher: Dispatcher, inbox: PlaygroundInbox) -> None:
    from bot.demo import is_empty, load_demo
    from bot.platforms.playground import setup_routes
    from core.models import utcnow

    # With no platform configured, an empty database gets the demo so the first run shows jifen.
    if not (settings.wecom_enabled or settings.dingtalk_enabled) and await is_empty(db):
        log.info(await load_demo(db, policy, now=utcnow()))
    setup_routes(app, dispatcher=dispatcher, inbox=inbox, db=db)


def _start_background(app: web.Application, worker: OutboxWorker, scheduler: Scheduler) -> None:
    async def _start(_app: web.Application) -> None:
        _app[OUTBOX_TASK_KEY] = asyncio.create_task(worker.run())
        scheduler.start()

    async def _stop(_app: web.Application) -> None:
        worker.stop()
        await scheduler.stop()
        task = _app.get(OUTBOX_TASK_KEY)
        if task is not None:
            await asyncio.wait_for(task, timeout=10)

    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
