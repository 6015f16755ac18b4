"""B1: awards/s and redemptions/s through the core, against a raw sqlite3 loop.

The baseline performs, per transaction, as many single-row writes as one core operation made
(read from SQLite's ``total_changes`` during the core run), with jifen's engine settings:
``journal_mode=WAL`` and ``synchronous=NORMAL``. The SQL statements printed per operation count
everything sent to the database, ``BEGIN IMMEDIATE`` included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.common import POLICY_FILE, count_statements, pg_database
from config.policy_loader import load_policy
from core.db import Database
from core.models import Employee
from core.policy import Policy
from migrations.migrate import upgrade

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


async def _seed(db: Database, policy: Policy, n: int) -> None:
    from config.catalog_file import parse_catalog
    from core.catalog.importer import import_items
    from core.ledger import credit

    async def fill(s: AsyncSession) -> None:
        s.add_all(Employee(employee_id=f"B{i:05d}", name=f"bench{i}", department="bench")
                  for i in range(2 * n + 2))
        await s.flush()
        for i in range(2 * n + 2):
            await credit(s, employee_id=f"B{i:05d}", amount=1000, key=f"seed:{i}", kind="grant",
                         actor="bench", reason="seed", now=NOW, policy=policy)
        items = parse_catalog("items:\n  - {sku: BENCH, name: bench, points: 10, stock: 1000000}\n",
                              fmt="yaml")
        await import_items(s, items=items, now=NOW, policy=policy)

    await db.run(fill)


async def _changes(s: AsyncSession) -> int:
    conn = await s.connection()
    raw = await conn.get_raw_connection()
    return int(raw.driver_connection.total_changes)  # type: ignore[union-attr]


async def _timed(db: Database, n: int, op: Callable[[AsyncSession, int], Awaitable[None]]
                 ) -> tuple[float, float, float]:
    """(operations per second, rows written per operation on SQLite, SQL statements per operation)."""
    statements = count_statements(db.engine)
    writes = 0
    start = time.perf_counter()
    for i in range(n):
        async def one(s: AsyncSession, i: int = i) -> int:
            before = await _changes(s) if db.is_sqlite else 0
            await op(s, i)
            return (await _changes(s) - before) if db.is_sqlite else 0
        writes += await db.run(one)
    elapsed = time.perf_counter() - start
    per_op = statements[0] / n  # total_changes is a connection attribute, not a statement
    return n / elapsed, writes / n, per_op


async def _award(policy: Policy) -> Callable[[AsyncSession, int], Awaitable[None]]:
    from core.awards.service import give

    async def op(s: AsyncSession, i: int) -> None:
        await give(s, giver_id=f"B{2 * i:05d}", recipient_ids=[f"B{2 * i + 1:05d}"], amount=5,
                   reason="bench award", key=f"bench:award:{i}", now=NOW, policy=policy)
    return op


async def _redeem(policy: Policy) -> Callable[[AsyncSession, int], Awaitable[None]]:
    from core.orders.service import confirm, start_redemption

    async def op(s: AsyncSession, i: int) -> None:
        pending = await start_redemption(s, employee_id=f"B{i:05d}", sku="BENCH", qty=1, now=NOW,
                                         policy=policy)
        await confirm(s, employee_id=f"B{i:05d}", code=pending.code, now=NOW, policy=policy)
    return op


async def run_core(url: str, n: int, policy: Policy) -> dict[str, tuple[float, float, float]]:
    await upgrade(url)
    db = Database(url)
    try:
        await _seed(db, policy, n)
        return {"awards": await _timed(db, n, await _award(policy)),
                "redemptions": await _timed(db, n, await _redeem(policy))}
    finally:
        await db.dispose()


def raw_sqlite(path: str, n: int, rows_per_tx: float) -> float:
    """Transactions per second of a plain sqlite3 loop writing ``rows_per_tx`` rows each."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # the same two settings as core.db's engine
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c INTEGER, d TEXT, e TEXT)")
    k = max(1, round(rows_per_tx))
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        for j in range(k):
            conn.execute("INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)",
                         (f"k{i}:{j}", i, j, "x" * 20, "2026-03-10 02:00:00"))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"))
    args = ap.parse_args(argv)
    policy = load_policy(POLICY_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_res = asyncio.run(run_core(f"sqlite+aiosqlite:///{tmp}/b1.db", args.n, policy))
        print(f"B1 n={args.n}")
        for op, (rate, rows, stmts) in sqlite_res.items():
            base = raw_sqlite(f"{tmp}/raw_{op}.db", args.n, rows)
            print(f"  sqlite   {op:<12} {rate:8.1f}/s  ({rows:.1f} row writes, {stmts:.0f} SQL "
                  f"statements each)  raw sqlite3 {base:8.1f} tx/s  ratio {rate / base:6.1%}  "
                  f"(goal >= 25%)")
    if args.postgres:
        url, drop = pg_database(args.postgres, "b1")
        try:
            pg_res = asyncio.run(run_core(url, args.n, policy))
        finally:
            drop()
        for op, (rate, _rows, stmts) in pg_res.items():
            print(f"  postgres {op:<12} {rate:8.1f}/s  ({stmts:.0f} SQL statements each)")


if __name__ == "__main__":
    main()
