"""Real-time contact events (WeCom change_contact, DingTalk Stream contact events), applied
exactly once: the event id is remembered in the same transaction as the changes, so a
redelivered event finds it and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.sources import ContactsSource
from bot.runtime.events import ContactChange
from core import idempotency
from core.db import Database
from core.directory_sync.changes import Change, Member, Roster
from core.directory_sync.sync import apply_member, remove_member, rename_user, sync_directory
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen.directory")


class ContactEvents:
    """The ``contacts`` feed of the transports for one platform."""

    def __init__(self, *, db: Database, policy: Policy, platform: str, source: ContactsSource,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.policy, self.platform, self.source = db, policy, platform, source
        self.clock = clock

    async def __call__(self, change: ContactChange) -> None:
        if change.platform != self.platform:
            log.info("directory: ignoring %s contact event (sync follows %s)",
                     change.platform, self.platform)
            return
        key = f"contact:{change.platform}:{change.event_id}"
        if await self.db.run(lambda s: idempotency.recall(s, key)) is not None:
            return  # a redelivery
        roster: Roster | None = None
        if change.kind == "department":
            roster = await self.source.roster()  # paths of many people may have changed
            members: list[tuple[str, Member | None]] = []
        else:
            members = [(uid, None if change.kind == "leave" else await self.source.member(uid))
                       for uid in change.user_ids]
        now = self.clock()

        async def work(s: AsyncSession) -> None:
            if await idempotency.recall(s, key) is not None:
                return  # a concurrent twin got here first
            applied = await self._apply(s, change, roster, members, now)
            await idempotency.remember(s, key, {"changes": [c.describe() for c in applied]},
                                       now=now)

        await self.db.run(work)

    async def _apply(self, s: AsyncSession, change: ContactChange, roster: Roster | None,
                     members: list[tuple[str, Member | None]], now: datetime) -> list[Change]:
        today = now.astimezone(ZoneInfo(self.policy.timezone)).date()
        if roster is not None:
            report = await sync_directory(s, roster=roster, policy=self.policy, now=now,
                                          today=today)
            if report.refused:
                log.warning("directory: department event not applied: %s", report.refused)
            return report.changes if report.applied else []
        if change.renamed_from:
            await rename_user(s, platform=self.platform, old=change.renamed_from,
                              new=change.user_ids[0])
        applied: list[Change] = []
        for uid, member in members:
            if member is None:  # left, or no longer readable as a member
                applied += await remove_member(s, platform=self.platform, user_id=uid,
                                               policy=self.policy, now=now)
            else:
                applied += await apply_member(s, platform=self.platform, member=member,
                                              policy=self.policy, now=now, today=today)
        return applied
