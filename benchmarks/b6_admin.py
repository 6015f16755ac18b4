"""B6: the admin API's monthly report and an employee's history on 100,000 employees /
1,000,000 lots / 2,000,000 ledger entries.

Seeding (benchmarks/seed.py, in a child process so the peak RSS printed is the server's own)
spreads the employees over the 12 months before ``NOW``: each month's twelfth of the employees
gets its lots (one ``grant`` transaction, two entries each) in that month, so the report of a
month sums a twelfth of the ledger, as a real year of history would.

Then, timed, in this process, over real HTTP on loopback (the real app with the bearer token):
``--calls`` calls of ``GET /api/v1/reports/monthly?month=…`` (the busiest month) and of
``GET /api/v1/employees/{id}/history`` (a different employee each call), p50 / p95 / max, and
the peak RSS. Goals: p95 < 500 ms each, peak RSS < 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer

from benchmarks.common import POLICY_FILE, peak_rss_mib, percentile, pg_database
from benchmarks.seed import bulk_seed, employee_id
from config.policy_loader import load_policy
from config.settings import Settings
from core.db import Database
from core.timeutil import month_key
from migrations.migrate import upgrade

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
TOKEN = "bench-token"
MONTHS = 12


def _month_start(k: int) -> datetime:
    return NOW - timedelta(days=30 * k)


def seed_main(url: str, employees: int, per_employee: int) -> None:
    """Child process: migrate and bulk-seed, one slice of employees per month."""
    async def go() -> None:
        await upgrade(url)
        db = Database(url)
        start = time.perf_counter()
        try:
            per_month = -(-employees // MONTHS)
            for k in range(MONTHS):
                n = min(per_month, employees - k * per_month)
                if n <= 0:
                    break
                await bulk_seed(db, employees=n, lots_per_employee=per_employee, amount=10,
                                expires=lambda i, j: NOW + timedelta(days=30 + (i + j) % 300),
                                now=_month_start(k), prefix=f"M{k:02d}B", chunk=10_000)
                print(f"    seeded month -{k}: {n} employees", flush=True)
        finally:
            await db.dispose()
        print(f"    seeding took {time.perf_counter() - start:.1f} s", flush=True)
    asyncio.run(go())


async def _timed(client: TestClient, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        start = time.perf_counter()
        resp = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        await resp.read()
        times.append(time.perf_counter() - start)
        if resp.status != 200:
            raise SystemExit(f"{path}: HTTP {resp.status}")
    return sorted(times)


def _line(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (f"  {name:<34} p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
            f"max {ms[-1]:7.1f} ms  (goal p95 < 500 ms)")


async def serve(url: str, args: argparse.Namespace) -> None:
    from bot.app import create_app

    policy = load_policy(POLICY_FILE)
    db = Database(url)
    settings = Settings(database_url=url, admin_token=TOKEN, playground=False,  # type: ignore[call-arg]
                        _env_file=None)
    client = TestClient(TestServer(create_app(settings, db, policy)))
    await client.start_server()
    try:
        month = month_key(_month_start(0), policy)
        report = await _timed(client, [f"/api/v1/reports/monthly?month={month}"] * args.calls)
        per_month = -(-args.employees // MONTHS)
        people = [employee_id(f"M{k % MONTHS:02d}B", (k * 7919) % per_month)
                  for k in range(args.calls)]
        history = await _timed(client, [f"/api/v1/employees/{p}/history?limit=50"
                                        for p in people])
        print(_line(f"GET /reports/monthly ({month})", report))
        print(_line("GET /employees/{id}/history", history))
        print(f"  peak RSS {peak_rss_mib():.0f} MiB (goal < 1024 MiB)")
    finally:
        await client.close()
        await db.dispose()


def run(url: str, name: str, args: argparse.Namespace) -> None:
    lots = args.employees * args.lots_per_employee
    print(f"  {name}: seeding {args.employees} employees, {lots} lots, {2 * lots} entries",
          flush=True)
    child = mp.get_context("spawn").Process(target=seed_main, args=(
        url, args.employees, args.lots_per_employee))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"seeding failed (exit code {child.exitcode})")
    asyncio.run(serve(url, args))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=100_000)
    ap.add_argument("--lots-per-employee", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--postgres", default=None,
                    help="also run on a fresh database next to this PostgreSQL URL")
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = ap.parse_args()
    print(f"B6 admin API, {args.employees} employees ({os.cpu_count()} CPUs)")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite+aiosqlite:///{tmp}/b6.db", "sqlite", args)
    if args.postgres:
        url, drop = pg_database(args.postgres, "b6")
        try:
            run(url, "postgres", args)
        finally:
            drop()


if __name__ == "__main__":
    main()
