"""B4: the expiry sweep and the expiry reminders over 100,000 employees / 1,000,000 lots.

Seeding (benchmarks/seed.py: bulk core inserts of employees, accounts and one ``grant``
transaction + two entries + one lot per lot, consistent with the ledger) runs in a child
process, so the peak RSS printed is the jobs' own. Of each employee's lots, ``--due`` are already
expired (the sweep's work) and ``--soon`` expire within the next 30 days (the reminders' work);
the rest expire 2-12 months ahead.

Then, timed, in this process: the scheduler's ``expire`` job (bot.jobs.runner: batches of 500
due lots, one transaction each) and its ``expiry-reminders`` job; then ``core.ledger.verify``.
The sweep stops after ``--sweep-timeout`` seconds (its current batch rolls back) and the
projected total is printed instead. ``--profile`` runs the jobs under cProfile.
Goals: < 60 s, peak RSS < 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from benchmarks.common import (
    POLICY_FILE,
    count_statements,
    each_backend,
    peak_rss_mib,
    seed_in_child,
)
from benchmarks.seed import Expiry, bulk_seed
from config.policy_loader import load_policy
from core.db import Database
from core.models import Lot, OutboxMessage, ReminderMark
from migrations.migrate import upgrade

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _expiry(due: int, soon: int) -> Expiry:
    def expires(i: int, j: int) -> datetime:
        if j < due:  # expired 1-30 days ago
            return NOW - timedelta(days=1 + (i + j) % 30)
        if j < due + soon:  # within the reminder thresholds (30/7/1 days)
            return NOW + timedelta(hours=6 + (i * 7 + j) % (30 * 24 - 6))
        return NOW + timedelta(days=60 + (i * 13 + j) % 300)
    return expires


def seed_main(url: str, employees: int, per_employee: int, due: int, soon: int) -> None:
    """Child process: migrate and bulk-seed."""
    async def go() -> None:
        await upgrade(url)
        db = Database(url)
        try:
            seconds = await bulk_seed(
                db, employees=employees, lots_per_employee=per_employee, amount=10,
                expires=_expiry(due, soon), now=NOW - timedelta(days=400), chunk=10_000,
                progress=lambda m: print(f"    {m}", flush=True))
        finally:
            await db.dispose()
        print(f"    seeding took {seconds:.1f} s (peak RSS of the seeding process "
              f"{peak_rss_mib():.0f} MiB)", flush=True)
    asyncio.run(go())


async def _count(db: Database, stmt: object) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(stmt) or 0)  # type: ignore[call-overload]


def _due_stmt() -> object:
    return select(func.count()).select_from(Lot).where(Lot.remaining > 0, Lot.expires_at <= NOW)


async def jobs(url: str, args: argparse.Namespace) -> None:
    from bot.jobs.runner import run_job
    from core.ledger.verify import verify

    policy = load_policy(POLICY_FILE)
    db = Database(url)
    profiler = cProfile.Profile() if args.profile else None
    try:
        due_before = await _count(db, _due_stmt())
        rss0 = peak_rss_mib()
        statements = count_statements(db.engine)
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        try:
            summary = await asyncio.wait_for(run_job("expire", db=db, policy=policy, now=NOW),
                                             args.sweep_timeout)
        except TimeoutError:
            summary = None
        sweep = time.perf_counter() - start
        sweep_statements = statements[0]
        if summary is None:
            left = await _count(db, _due_stmt())
            done = due_before - left
            projected = sweep * due_before / done if done else float("inf")
            print(f"  expire sweep      STOPPED after {sweep:.1f} s: {done} of {due_before} due lots "
                  f"expired ({done / sweep:.0f} lots/s, about {sweep_statements / max(1, done):.1f} "
                  f"SQL statements per lot) -> projected {projected:.0f} s for all")
        else:
            print(f"  expire sweep      {sweep:8.1f} s  {summary}  ({due_before / sweep:.0f} lots/s, "
                  f"{sweep_statements} SQL statements in all)")
        start = time.perf_counter()
        summary = await run_job("expiry-reminders", db=db, policy=policy, now=NOW)
        reminders = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
        rss = peak_rss_mib()
        print(f"  expiry reminders  {reminders:8.1f} s  {summary}")
        marks = await _count(db, select(func.count()).select_from(ReminderMark))
        pushes = await _count(db, select(func.count()).select_from(OutboxMessage))
        print(f"  total {sweep + reminders:.1f} s (goal < 60 s); peak RSS {rss:.0f} MiB "
              f"(before the jobs {rss0:.0f} MiB; goal < 1024 MiB); {marks} reminder marks, "
              f"{pushes} outbox rows")
        if profiler is not None:
            print("  --- cProfile of the jobs (event-loop thread) ---")
            pstats.Stats(profiler).sort_stats(args.profile).print_stats(args.profile_lines)
        if args.verify:
            start = time.perf_counter()
            async with db.uow() as s:
                problems = await verify(s)
            shown = problems[:5] + ([f"... {len(problems) - 5} more"] if len(problems) > 5 else [])
            print(f"  verify()          {time.perf_counter() - start:8.1f} s  "
                  f"{'OK' if not problems else shown}")
            if problems:
                raise SystemExit("B4: verify() failed")
    finally:
        await db.dispose()


def run(url: str, name: str, args: argparse.Namespace) -> None:
    print(f"  {name}: seeding {args.employees} employees x {args.lots_per_employee} lots "
          f"({args.due} due, {args.soon} within 30 days per employee)", flush=True)
    seed_in_child(seed_main, url, args.employees, args.lots_per_employee, args.due, args.soon)
    asyncio.run(jobs(url, args))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=100_000)
    ap.add_argument("--lots-per-employee", type=int, default=10)
    ap.add_argument("--due", type=int, default=1, help="lots per employee already expired (10 %%)")
    ap.add_argument("--soon", type=int, default=1,
                    help="lots per employee expiring within 30 days (the reminders' share)")
    ap.add_argument("--sweep-timeout", type=float, default=120.0,
                    help="stop the sweep after this many seconds and project the total")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip core.ledger.verify after the jobs")
    ap.add_argument("--profile", choices=("tottime", "cumulative"),
                    help="cProfile the jobs, sorted by this column")
    ap.add_argument("--profile-lines", type=int, default=30)
    ap.add_argument("--postgres", default=None,
                    help="also run on a fresh database next to this PostgreSQL URL")
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = ap.parse_args(argv)
    lots = args.employees * args.lots_per_employee
    print(f"B4 {args.employees} employees, {lots} lots ({os.cpu_count()} CPUs)")
    each_backend("b4", args, run)


if __name__ == "__main__":
    main()
