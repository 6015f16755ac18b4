"""The scheduler: jobs at local times, and exactly one leader among replicas (PostgreSQL) or
among the processes sharing an SQLite file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.jobs.scheduler import SCHEDULE, Scheduler
from core.db import Database
from core.leader import LOCK_ID, FileLock, lock_path
from core.policy import Policy


async def test_one_leader_among_replicas(db: Database, db_url: str, policy: Policy) -> None:
    other_db = Database(db_url)
    first, second = Scheduler(db, policy), Scheduler(other_db, policy)
    try:
        assert await first.claim() is True  # at start
        assert await first.leadership.held() is True  # asking again keeps it
        # another replica holds the advisory lock, or another process the SQLite file's flock
        assert await second.claim() is False
        assert await first.run_once("expire") is not None
        assert await second.run_once("expire") is None  # a follower runs no job
        await first.stop()  # the leader goes away: its connection closes, the lock is free
        assert await second.leadership.held() is True
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


async def _terminate_lock_holder(db: Database) -> int:
    """``pg_terminate_backend`` on the session holding the scheduler's advisory lock (what a
    PostgreSQL restart or failover does to it); returns how many backends were ended."""
    async with db.engine.connect() as conn:
        ended = await conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND ((classid::bigint << 32) | objid::bigint) = :id "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"id": LOCK_ID})
        await conn.commit()
    return int(ended or 0)


async def test_a_terminated_lock_connection_is_replaced_and_one_replica_runs(
        db: Database, db_url: str, policy: Policy) -> None:
    if db.is_sqlite:
        pytest.skip("the advisory lock exists on PostgreSQL only")
    other_db = Database(db_url)
    first, second = Scheduler(db, policy), Scheduler(other_db, policy)
    try:
        assert await first.run_once("expire") is not None
        assert await second.run_once("expire") is None
        assert await _terminate_lock_holder(db) == 1
        # the lock died with its backend: each replica notices, reconnects and asks again;
        # exactly one of them runs the next job, whichever asks first
        ran = await asyncio.gather(second.run_once("expire"), first.run_once("expire"))
        assert sum(r is not None for r in ran) == 1
        leader, follower = (second, first) if ran[0] is not None else (first, second)
        assert await follower.run_once("expire") is None  # and it stays that way
        assert await leader.run_once("expire") is not None
    finally:
        await first.stop()
        await second.stop()
        await other_db.dispose()


async def test_the_leader_recovers_its_own_lock_after_termination(
        db: Database, policy: Policy) -> None:
    if db.is_sqlite:
        pytest.skip("the advisory lock exists on PostgreSQL only")
    sched = Scheduler(db, policy)
    try:
        assert await sched.run_once("expire") is not None
        assert await _terminate_lock_holder(db) == 1
        assert await sched.run_once("expire") is not None  # no "connection is closed" forever
        assert await sched.run_once("expire") is not None
        assert await _terminate_lock_holder(db) == 1
    finally:
        await sched.stop()  # on a dead connection: no error, nothing leaks


def test_the_sqlite_leader_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    """The kernel drops a dead process's flock: a process that held the lock and was killed
    (SIGKILL, no cleanup) leaves it free for the next."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
    path = lock_path(url)
    assert path == f"{tmp_path / 'j.db'}.leader"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, path], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert FileLock(path).held() is False
        holder.kill()
        holder.wait()
        mine = FileLock(path)
        assert mine.held() is True
        assert FileLock(path).held() is False  # another descriptor, even in this process
        mine.release()
        assert FileLock(path).held() is True
    finally:
        holder.kill()
        holder.wait()


def test_an_in_memory_database_has_one_process_which_leads() -> None:
    assert lock_path("sqlite+aiosqlite:///:memory:") is None
    assert lock_path("sqlite+aiosqlite://") is None
    assert FileLock(None).held() is True


_HOLD = """
import sys, time
from core.leader import FileLock
assert FileLock(sys.argv[1]).held()
print("held", flush=True)
time.sleep(600)
"""
