"""apscheduler inside ``jifen run``: the core jobs at sensible local times, on one replica only.

With PostgreSQL any number of replicas may run; a session-level advisory lock held on a dedicated
connection elects the one that schedules (SPEC section 7). If that replica dies its connection
closes, the lock is released and another replica picks it up at its next try.

The lock connection can die under us (a PostgreSQL restart or failover, ``pg_terminate_backend``):
the server then has released the lock, and every statement on the old connection fails with
``connection is closed`` / ``PendingRollbackError``. So each try that fails on the connection
throws it away (invalidated, never back into the pool) and asks again on a fresh one; whoever
wins the lock first runs the job, the others see ``false``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.jobs.runner import run_job
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
    "retention": {"hour": 3, "minute": 30},  # quiet hours: batches still yield to chat traffic
    "report-rollup": {"minute": "*"},  # keeps the monthly report's live part to minutes (B6)
}
# what a dead lock connection raises: DBAPIError (connection closed / terminated), or
# InvalidRequestError (PendingRollbackError) when SQLAlchemy saw the failure first
_LOST = (DBAPIError, InvalidRequestError, OSError, ConnectionError)


ExtraJob = tuple[dict[str, Any], Callable[[datetime], Awaitable[str]]]  # cron fields, run(now)


class Scheduler:
    def __init__(self, db: Database, policy: Policy,
                 extra: dict[str, ExtraJob] | None = None) -> None:
        self.db, self.policy = db, policy
        self.extra = extra or {}  # jobs that need more than the database (directory sync)
        self.scheduler = AsyncIOScheduler(timezone=policy.timezone)
        self._lock_conn: AsyncConnection | None = None

    async def _leader(self) -> bool:
        if self.db.is_sqlite:
            return True
        try:
            return await self._try_lock()
        except _LOST as exc:
            log.warning("scheduler: lock connection lost (%s); reconnecting", type(exc).__name__)
            await self._discard()
        return await self._try_lock()  # a fresh connection; if the database is still down, the
        # error is logged by _run and the next run tries again

    async def _try_lock(self) -> bool:
        if self._lock_conn is None:
            self._lock_conn = await self.db.engine.connect()  # pool_pre_ping: a live one
        got = await self._lock_conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": LOCK_ID})
        await self._lock_conn.commit()
        return bool(got)

    async def _discard(self) -> None:
        """Drop the lock connection for good: invalidated, so the pool never hands it out again."""
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        with suppress(*_LOST):
            await conn.invalidate()
        with suppress(*_LOST):
            await conn.close()

    async def run_once(self, name: str) -> str | None:
        """Run job ``name`` if this replica is the leader; its summary, or None if it is not."""
        if not await self._leader():
            return None
        if name in self.extra:
            summary = await self.extra[name][1](utcnow())
        else:
            summary = await run_job(name, db=self.db, policy=self.policy, now=utcnow())
        log.info("job %s: %s", name, summary)
        return summary

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
        if self._lock_conn is None:
            return
        try:
            # the connection goes back to the pool, not away: release the lock explicitly
            await self._lock_conn.execute(text("SELECT pg_advisory_unlock_all()"))
            await self._lock_conn.commit()
            await self._lock_conn.close()
            self._lock_conn = None
        except _LOST:  # already dead: the server released the lock with it
            await self._discard()
