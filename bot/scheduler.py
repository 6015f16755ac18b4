"""apscheduler inside ``jifen run``: the core jobs at sensible local times, on one replica only.

With PostgreSQL any number of replicas may run; a session-level advisory lock held on a dedicated
connection elects the one that schedules (SPEC section 7). If that replica dies its connection
closes, the lock is released and another replica picks it up at its next try.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.jobs import run_job
from core.db import Database
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen.scheduler")
LOCK_ID = 0x6A6966656E  # "jifen"

# job -> cron fields, in JIFEN_TIMEZONE
SCHEDULE: dict[str, dict[str, Any]] = {
    "expire": {"hour": 0, "minute": 5},
    "auto-grants": {"hour": 9, "minute": 0},
    "expiry-reminders": {"hour": 10, "minute": 0},
    "approval-reminders": {"minute": 17},  # hourly
}


class Scheduler:
    def __init__(self, db: Database, policy: Policy) -> None:
        self.db, self.policy = db, policy
        self.scheduler = AsyncIOScheduler(timezone=policy.timezone)
        self._lock_conn: AsyncConnection | None = None

    async def _leader(self) -> bool:
        if self.db.is_sqlite:
            return True
        if self._lock_conn is None:
            self._lock_conn = await self.db.engine.connect()
        got = await self._lock_conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": LOCK_ID})
        await self._lock_conn.commit()
        return bool(got)

    async def _run(self, name: str) -> None:
        try:
            if not await self._leader():
                return
            log.info("job %s: %s", name, await run_job(name, db=self.db, policy=self.policy, now=utcnow()))
        except Exception:  # noqa: BLE001 - a failed run is logged; the next one tries again
            log.exception("job %s failed", name)

    def triggers(self) -> dict[str, CronTrigger]:
        """Every job's trigger; the weekly digest follows ``digest.cron`` of the policy file."""
        tz = self.policy.timezone
        found = {name: CronTrigger(timezone=tz, **fields) for name, fields in SCHEDULE.items()}
        found["digest"] = CronTrigger.from_crontab(self.policy.digest.cron.strip(), timezone=tz)
        return found

    def start(self) -> None:
        for name, trigger in self.triggers().items():
            self.scheduler.add_job(self._run, trigger, args=[name], id=name, coalesce=True,
                                   max_instances=1, misfire_grace_time=3600)
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._lock_conn is not None:
            # the connection goes back to the pool, not away: release the lock explicitly
            await self._lock_conn.execute(text("SELECT pg_advisory_unlock_all()"))
            await self._lock_conn.commit()
            await self._lock_conn.close()
            self._lock_conn = None
