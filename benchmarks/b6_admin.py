"""B6: the HR console's dashboard, the admin API's monthly report and an employee's history on
100,000 employees / 1,000,000 lots / 2,000,000 ledger entries.

Seeding (benchmarks/seed.py, in a child process so the peak RSS printed is the server's own)
spreads the employees over the 12 months before ``NOW``: each month's twelfth of the employees
gets its lots (one ``grant`` transaction, two entries each) in that month, so the report of a
month sums a twelfth of the ledger, as a real year of history would.

Then the ``report-rollup`` job folds the seeded ledger into the monthly figures (what the
scheduler does every minute in ``jifen run``; its time is printed, not part of the goal), and a
few more grants are posted after it, so every report also sums a live part.

Then, timed, in this process, over real HTTP on loopback (the real app; the bearer token for
the API, a console session signed in from a one-time link for the dashboard): ``--calls`` calls
of ``GET /api/v1/reports/monthly?month=…`` (the busiest month), of ``GET /admin`` (the
dashboard: twelve months of figures, this month's summary, departments, participation,
approvals…) and of ``GET /api/v1/employees/{id}/history`` (a different employee each call),
p50 / p95 / max, the SQL statements of one call of each, and the peak RSS. Goals: p95 < 500 ms
each, peak RSS < 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from benchmarks.common import (
    POLICY_FILE,
    StatementCounter,
    count_db_statements,
    each_backend,
    peak_rss_mib,
    percentile,
    seed_in_child,
)
from benchmarks.seed import bulk_seed, employee_id
from bot.web.auth.links import login_link
from config.settings import Settings
from core import ledger
from core.db import Database
from core.models import Employee, LedgerTransaction, ReportRollup, utcnow
from core.policy import Policy
from core.reports import rollup
from core.timeutil import month_key
from migrations.migrate import upgrade

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
TOKEN = "bench-token"
MONTHS = 12
HR_ID = "BENCHHR"
LATE = 50  # grants posted after the fold: the report's live part


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
            async with db.uow() as s:
                s.add(Employee(employee_id=HR_ID, name="HR", department="人力资源部", roles="hr"))
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


def _line(name: str, times: list[float], statements: int) -> str:
    ms = [t * 1000 for t in times]
    return (f"  {name:<34} p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
            f"max {ms[-1]:7.1f} ms  {statements:3d} SQL statements  (goal p95 < 500 ms)")


async def _catch_up(db: Database, policy: Policy) -> None:
    """The report-rollup job until everything seeded is folded (on PostgreSQL a candidate
    watermark becomes usable once the transactions running when it was noted have ended)."""
    start = time.perf_counter()
    async with db.reading() as s:
        top = int(await s.scalar(select(func.max(LedgerTransaction.id))) or 0)
    folded = 0
    for _ in range(600):
        folded += await rollup.advance(db, policy, lag=timedelta(0))
        async with db.reading() as s:
            if int(await s.scalar(select(ReportRollup.watermark)) or 0) >= top:
                break
        await asyncio.sleep(0.05)
    print(f"  report-rollup job: folded {folded} transactions in "
          f"{time.perf_counter() - start:.1f} s (not timed below)", flush=True)


async def _late_grants(db: Database, policy: Policy) -> None:
    async with db.uow() as s:
        for i in range(LATE):
            await ledger.credit(s, employee_id=employee_id("M00B", 0), amount=7,
                                key=f"b6-late:{i}", kind="grant", actor="HR", reason="late",
                                now=NOW, policy=policy)


async def _sign_in(client: TestClient, db: Database, settings: Settings) -> None:
    url = await db.run(lambda s: login_link(s, settings, employee_id=HR_ID, purpose="admin",
                                            now=utcnow()))
    resp = await client.get("/" + url.split("://", 1)[1].split("/", 1)[1], allow_redirects=False)
    if resp.status != 303:
        raise SystemExit(f"console sign-in: HTTP {resp.status}")


async def _each(client: TestClient, counter: StatementCounter, name: str,
                paths: list[str]) -> str:
    counter[0] = 0
    await _timed(client, paths[:1])
    statements = counter[0]
    return _line(name, await _timed(client, paths), statements)


async def serve(url: str, args: argparse.Namespace) -> None:
    from bot.app import DB_KEY, POLICY_KEY, build_served

    settings = Settings(database_url=url, admin_token=SecretStr(TOKEN), playground=False,  # type: ignore[call-arg]
                        policy_file=str(POLICY_FILE), _env_file=None)
    app = await build_served(settings, background=False)  # the console's routes too
    db, policy = app[DB_KEY], app[POLICY_KEY]
    await _catch_up(db, policy)
    await _late_grants(db, policy)
    client = TestClient(TestServer(app))
    await client.start_server()
    counter = count_db_statements(db)
    try:
        await _sign_in(client, db, settings)
        month = month_key(_month_start(0), policy)
        per_month = -(-args.employees // MONTHS)
        people = [employee_id(f"M{k % MONTHS:02d}B", (k * 7919) % per_month)
                  for k in range(args.calls)]
        print(await _each(client, counter, f"GET /reports/monthly ({month})",
                          [f"/api/v1/reports/monthly?month={month}"] * args.calls))
        print(await _each(client, counter, "GET /admin (dashboard)", ["/admin"] * args.calls))
        print(await _each(client, counter, "GET /employees/{id}/history",
                          [f"/api/v1/employees/{p}/history?limit=50" for p in people]))
        print(f"  peak RSS {peak_rss_mib():.0f} MiB (goal < 1024 MiB)")
    finally:
        await client.close()


def run(url: str, name: str, args: argparse.Namespace) -> None:
    lots = args.employees * args.lots_per_employee
    print(f"  {name}: seeding {args.employees} employees, {lots} lots, {2 * lots} entries",
          flush=True)
    seed_in_child(seed_main, url, args.employees, args.lots_per_employee)
    asyncio.run(serve(url, args))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=100_000)
    ap.add_argument("--lots-per-employee", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--postgres", default=None,
                    help="also run on a fresh database next to this PostgreSQL URL")
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = ap.parse_args(argv)
    print(f"B6 admin API, {args.employees} employees ({os.cpu_count()} CPUs)")
    each_backend("b6", args, run)


if __name__ == "__main__":
    main()
