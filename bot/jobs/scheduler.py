"""apscheduler inside ``jifen run``: the core jobs at sensible local times, on one replica only
(``core.leader``: with PostgreSQL any number of replicas may run; an advisory lock elects the
one that runs the jobs, and a replica whose lock connection died reconnects and asks again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.jobs.runner import run_job
from core.db import Database
from core.leader import Leadership
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen.scheduler")

# job -> cron fields, in JIFEN_TIMEZONE
SCHEDULE: dict[str, dict[str, Any]] = {
    "expire": {"hour": 0, "minute": 5},
    "auto-grants": {"hour": 9, "minute": 0},
    "expiry-reminders": {"hour": 10, "minute": 0},
    "approval-reminders": {"minute": 17},  # hourly
    "retention": {"hour": 3, "minute": 30},  # quiet hours: batches still yield to chat traffic
    "report-rollup": {"minute": "*"},  # keeps the monthly report's live part to minutes (B6)
}


ExtraJob = tuple[dict[str, Any], Callable[[datetime], Awaitable[str]]]  # cron fields, run(now)


class Scheduler:
    def __init__(self, db: Database, policy: Policy,
                 extra: dict[str, ExtraJob] | None = None) -> None:
        self.db, self.policy = db, policy
        self.extra = extra or {}  # jobs that need more than the database (directory sync)
        self.scheduler = AsyncIOScheduler(timezone=policy.timezone)
        self.leadership = Leadership(db)

    async def run_once(self, name: str) -> str | None:
        """Run job ``name`` if this replica is the leader; its summary, or None if it is not."""
        if not await self.leadership.held():
            return None
        if name in self.extra:
            summary = await self.extra[name][1](utcnow())
        else:
            summary = await run_job(name, db=self.db, policy=self.policy, now=utcnow())
        log.info("job %s: %s", name, summary)
        return summary

    async def claim(self) -> bool:
        """Ask to lead at start (not only at the first job), and say in the log what came of it."""
        try:
            leads = await self.leadership.held()
        except Exception:  # noqa: BLE001 - the next job's run asks again
            log.exception("could not ask whether this process leads")
            return False
        log.info("scheduled jobs: %s", "this process runs them" if leads else
                 "another process runs them (this one takes over if it goes away)")
        return leads

    async def _run(self, name: str) -> None:
        try:
            await self.run_once(name)
        except Exception:  # noqa: BLE001 - a failed run is logged; the next one tries again
            log.exception("job %s failed", name)

    def triggers(self) -> dict[str, CronTrigger]:
        """Every job's trigger; the weekly digest follows ``digest.cron`` of the policy file."""
        tz = self.policy.timezone
        every = {**SCHEDULE, **{name: job[0] for name, job in self.extra.items()}}
        found = {name: CronTrigger(timezone=tz, **fields) for name, fields in every.items()}
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
        await self.leadership.release()
