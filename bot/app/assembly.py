"""Wires the runtime into the aiohttp app: dispatcher, platforms, outbox worker, scheduler."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.app.demo import is_empty, load_demo
from bot.directory.events import ContactEvents
from bot.directory.wiring import directory_events, directory_jobs
from bot.handlers import build_router
from bot.inbox import InboxProcessor, InboxTimings
from bot.jobs.scheduler import Scheduler
from bot.outbox import Deliverer, OutboxSink, OutboxWorker, RateLimiter
from bot.platforms import dingtalk, wecom
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.dingtalk.stream import DingTalkStream
from bot.platforms.playground import setup_routes as playground_routes
from bot.platforms.playground.inbox import PlaygroundInbox
from bot.runtime.dispatcher import Dispatcher
from bot.web import setup_web
from bot.web.api import API_KEY, SESSION_LOOKUP
from bot.web.auth.sessions import api_session
from bot.web.mall.links import link_maker, push_linker, reply_linker
from config.settings import Settings
from core.db import Database
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen")
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
WORKER_KEY = web.AppKey("outbox_worker", OutboxWorker)
INBOX_KEY = web.AppKey("playground_inbox", PlaygroundInbox)
STREAM_KEY = web.AppKey("dingtalk_stream", DingTalkStream)
OUTBOX_TASK_KEY = web.AppKey("outbox_task", asyncio.Task[None])
EVENT_INBOX_KEY = web.AppKey("event_inbox", InboxProcessor)
INBOX_TASK_KEY = web.AppKey("inbox_task", asyncio.Task[None])


async def assemble(app: web.Application, settings: Settings, db: Database, policy: Policy, *,
                   background: bool) -> None:
    sink = OutboxSink()
    dispatcher = Dispatcher(db=db, policy=policy, settings=settings, router=build_router(),
                            sink=sink)
    app[DISPATCHER_KEY] = dispatcher
    # platforms acknowledge an event once the inbox holds it (README "Reliability")
    events = InboxProcessor(db, handle=dispatcher.handle, give_up=dispatcher.give_up,
                            timings=InboxTimings(lease_s=settings.inbox_lease_seconds,
                                                 max_attempts=settings.inbox_max_attempts),
                            early=dispatcher.early, record=dispatcher.record,
                            arrived=dispatcher.process_arrived)
    app[EVENT_INBOX_KEY] = events
    app.on_shutdown.append(lambda _app: events.stop())  # before the database closes
    inbox = PlaygroundInbox() if settings.playground_enabled else None
    wecom_client = None
    contacts = directory_events(app, settings, db, policy)
    if settings.wecom_enabled:
        wecom_client = wecom.client_from_settings(settings)
        wecom.setup_routes(app, crypto=wecom.crypto_from_settings(settings), feed=events.accept,
                           contacts=contacts if settings.directory_sync == "wecom" else None)
        app.on_cleanup.append(lambda _app: wecom_client.close())  # type: ignore[union-attr]
    dingtalk_sender = _dingtalk(app, settings, dispatcher, events, background=background,
                                contacts=contacts if settings.directory_sync == "dingtalk" else None)
    if inbox is not None:
        app[INBOX_KEY] = inbox
        await _playground(app, settings, db, policy, dispatcher, inbox)
    deliverer = Deliverer(db, policy, wecom=wecom_client, dingtalk=dingtalk_sender, playground=inbox,
                          links=push_linker(db, settings), reply_links=reply_linker(db, settings))
    worker = OutboxWorker(db, deliverer, limiter=RateLimiter())
    sink.on_commit = worker.wake
    app[WORKER_KEY] = worker
    setup_web(app)
    app[API_KEY][SESSION_LOOKUP] = api_session  # console sessions may call the admin API
    if background:
        _start_background(app, worker, events, Scheduler(db, policy, extra=directory_jobs(
            settings, db, policy)))


def _dingtalk(app: web.Application, settings: Settings, dispatcher: Dispatcher,
              events: InboxProcessor, *,
              background: bool, contacts: ContactEvents | None) -> DingTalkSender | None:
    if not settings.dingtalk_enabled:
        return None
    client = dingtalk.client_from_settings(settings)
    app.on_cleanup.append(lambda _app: client.close())
    if settings.dingtalk_mode == "http":
        dingtalk.setup_routes(app, app_secret=dingtalk.app_secret(settings), feed=events.accept,
                              admit=dingtalk.database_admit(dispatcher.db))
        # card clicks arrive only over Stream (callbackType STREAM): HTTP mode uses markdown cards
        # whose buttons are printed as text commands
        return DingTalkSender(client, card_template_id=None)
    stream = dingtalk.stream_from_settings(settings, feed=events.accept, contacts=contacts)
    app[STREAM_KEY] = stream
    if background:
        app.on_startup.append(lambda _app: stream.start())
        app.on_shutdown.append(lambda _app: stream.stop())  # before the database closes
    return dingtalk.sender_from_settings(settings, client)


async def _playground(app: web.Application, settings: Settings, db: Database, policy: Policy,
                      dispatcher: Dispatcher, inbox: PlaygroundInbox) -> None:
    # With no platform configured, an empty database gets the demo so the first run shows jifen.
    if not (settings.wecom_enabled or settings.dingtalk_enabled) and await is_empty(db):
        log.info(await load_demo(db, policy, now=utcnow()))
    playground_routes(app, feed=dispatcher.feed, inbox=inbox, db=db,
                      mall_link=link_maker(db, settings), links=push_linker(db, settings))


def _start_background(app: web.Application, worker: OutboxWorker, events: InboxProcessor,
                      scheduler: Scheduler) -> None:
    async def _start(_app: web.Application) -> None:
        _app[OUTBOX_TASK_KEY] = asyncio.create_task(worker.run())
        _app[INBOX_TASK_KEY] = asyncio.create_task(events.run())
        scheduler.start()
        await scheduler.claim()

    async def _stop(_app: web.Application) -> None:
        inbox_task = _app.get(INBOX_TASK_KEY)
        if inbox_task is not None:
            await asyncio.wait_for(inbox_task, timeout=10)
        worker.stop()
        await scheduler.stop()
        task = _app.get(OUTBOX_TASK_KEY)
        if task is not None:
            await asyncio.wait_for(task, timeout=10)

    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
