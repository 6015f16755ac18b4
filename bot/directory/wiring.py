"""Plugging the directory sync into ``jifen run``: the contact-event feed and the 02:00 job."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from bot.directory.events import ContactEvents
from bot.directory.runner import JOB_NAME, SCHEDULE, scheduled_sync
from bot.directory.sources import contacts_for
from bot.scheduler import ExtraJob
from config.settings import Settings
from core.db import Database
from core.policy import Policy


def directory_events(app: web.Application, settings: Settings, db: Database,
                     policy: Policy) -> ContactEvents | None:
    """The handler for the platform named by JIFEN_DIRECTORY_SYNC, or None when it is off."""
    if settings.directory_sync == "off":
        return None
    source = contacts_for(settings, settings.directory_sync)

    async def _close(_app: web.Application) -> None:
        await source.close()

    app.on_cleanup.append(_close)
    return ContactEvents(db=db, policy=policy, platform=settings.directory_sync, source=source)


def directory_jobs(settings: Settings, db: Database, policy: Policy) -> dict[str, ExtraJob]:
    if settings.directory_sync == "off":
        return {}

    async def run(now: datetime) -> str:
        return await scheduled_sync(db=db, policy=policy, settings=settings, now=now)

    return {JOB_NAME: (SCHEDULE, run)}
