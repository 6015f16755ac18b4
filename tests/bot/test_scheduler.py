"""The scheduler: jobs at local times, and exactly one leader among replicas on PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from bot.scheduler import SCHEDULE, Scheduler
from core.db import Database
from core.policy import Policy


async def test_one_leader_among_replicas(db: Database, db_url: str, policy: Policy) -> None:
    other_db = Database(db_url)
    first, second = Scheduler(db, policy), Scheduler(other_db, policy)
    try:
        assert await first._leader() is True
        if db.is_sqlite:  # one process owns an SQLite file: always the leader
            assert await second._leader() is True
            return
        assert await second._leader() is False  # another replica holds the advisory lock
        await first.stop()  # the leader goes away: its connection closes, the lock is free
        assert await second._leader() is True
    finally:
        await second.stop()
        await other_db.dispose()


async def test_jobs_are_scheduled_in_the_policy_time_zone(db: Database, policy: Policy) -> None:
    sched = Scheduler(db, policy)
    sched.start()
    try:
        jobs = {job.id: job for job in sched.scheduler.get_jobs()}
        assert set(jobs) == set(SCHEDULE) | {"digest"}
        nxt: datetime = jobs["expiry-reminders"].next_run_time
        assert (nxt.hour, nxt.minute) == (10, 0) and str(nxt.tzinfo) == "Asia/Shanghai"
        digest: datetime = jobs["digest"].next_run_time  # digest.cron: Monday 09:30 local
        assert (digest.weekday(), digest.hour, digest.minute) == (0, 9, 30)
        assert str(digest.tzinfo) == "Asia/Shanghai"
    finally:
        await sched.stop()
