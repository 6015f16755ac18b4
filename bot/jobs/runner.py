"""The jobs of SPEC sections 6 and 13 and the retention job, runnable from the CLI (``--now``) and
the scheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.approvals.service import remind_and_escalate
from core.autogrants.service import run_auto_grants
from core.db import Database
from core.expiry_reminders.service import expiry_reminders
from core.ledger.expiry import expire_batch
from core.policy import Policy
from core.reports.recognition import post_digest
from core.reports.rollup import advance
from core.retention import prune

BATCH = 2000  # due lots per transaction of the expiry sweep
JobFn = Callable[[Database, Policy, datetime], Awaitable[str]]


async def _expire(db: Database, policy: Policy, now: datetime) -> str:
    async def batch(session: AsyncSession) -> tuple[int, int]:
        expired = await ledger.system_account(session, "expired")
        return await expire_batch(session, now=now, expired_account_id=expired.id, limit=BATCH)

    total = lots = 0
    while True:  # batches keep each transaction (and its locks) short
        n, points = await db.run(batch)
        lots += n
        total += points
        if n < BATCH:
            return f"expired {total} points in {lots} lots"


async def _expiry_reminders(db: Database, policy: Policy, now: datetime) -> str:
    res = await db.run(lambda s: expiry_reminders(s, now=now, policy=policy))
    return f"queued {res.pushes} expiry reminders ({res.lots_marked} lots marked)"


async def _approval_reminders(db: Database, policy: Policy, now: datetime) -> str:
    res = await db.run(lambda s: remind_and_escalate(s, now=now, policy=policy))
    return f"reminded {res.reminded} approval steps, escalated {res.escalated}"


async def _auto_grants(db: Database, policy: Policy, now: datetime) -> str:
    grants = await db.run(lambda s: run_auto_grants(s, now=now, policy=policy))
    fresh = [g for g in grants if not g.duplicate]
    return f"granted {sum(g.points for g in fresh)} points in {len(fresh)} automatic grants"


async def run_digest(db: Database, policy: Policy, now: datetime, *, dry_run: bool = False) -> str:
    """The weekly 公示 of last week to every ``digest.targets``; once per week per target."""
    res = await db.run(lambda s: post_digest(s, now=now, policy=policy, dry_run=dry_run))
    d = res.digest
    head = f"digest {d.week} ({d.first_day}..{d.last_day}): {len(d.receivers)} receivers, " \
           f"{len(d.givers)} givers, {len(d.values)} values, {len(d.joined)} joined awards; "
    if not policy.digest.targets:
        return head + "no digest.targets configured"
    verb = "would post to" if dry_run else "queued for"
    done = f"{verb} {', '.join(res.queued) or 'no target'}"
    return head + done + (f"; already posted to {', '.join(res.already)}" if res.already else "")


async def _digest(db: Database, policy: Policy, now: datetime) -> str:
    return await run_digest(db, policy, now)


async def _retention(db: Database, policy: Policy, now: datetime) -> str:
    return (await prune(db, now=now, days=policy.retention.days)).summary()


async def _report_rollup(db: Database, policy: Policy, now: datetime) -> str:
    moved = await advance(db, policy, settle=True)
    return f"folded {moved} ledger transactions into the monthly figures"


JOBS: dict[str, JobFn] = {
    "expire": _expire,
    "expiry-reminders": _expiry_reminders,
    "approval-reminders": _approval_reminders,
    "auto-grants": _auto_grants,
    "digest": _digest,
    "retention": _retention,
    "report-rollup": _report_rollup,
}
JOB_NAMES = tuple(JOBS)


async def run_job(name: str, *, db: Database, policy: Policy, now: datetime) -> str:
    """Run one job now and return a one-line summary."""
    return await JOBS[name](db, policy, now)
