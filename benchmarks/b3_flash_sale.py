"""B3: flash sale. 2,000 employees with enough points all redeem one unit of an item with stock
100 at once: each runs ``start_redemption`` and then ``confirm`` (two units of work through
``Database.run``, as the chat flow does), all 2,000 concurrently on one event loop.

Prints the orders created (must be exactly the stock), negative balances (must be 0), the
outcome of every attempt, ``core.ledger.verify`` and the elapsed seconds (goal < 3 s).
Employees and their points are bulk-seeded first (benchmarks/seed.py), not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.common import POLICY_FILE, pg_database
from benchmarks.seed import bulk_seed, employee_id
from config.policy_loader import load_policy
from core import errors
from core.db import Database
from core.models import Account, CatalogItem, Entry, Order
from core.policy import Policy
from migrations.migrate import upgrade

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
SKU = "FLASH"
PRICE = 10


async def _item(db: Database, policy: Policy, stock: int) -> None:
    from config.catalog_file import parse_catalog
    from core.catalog.importer import import_items

    items = parse_catalog(f"items:\n  - {{sku: {SKU}, name: flash, points: {PRICE}, stock: {stock}}}\n",
                          fmt="yaml")
    await db.run(lambda s: import_items(s, items=items, now=NOW, policy=policy))


async def _attempt(db: Database, policy: Policy, i: int) -> str:
    from core.orders.service import confirm, start_redemption

    emp = employee_id("F", i)
    try:
        pending = await db.run(lambda s: start_redemption(s, employee_id=emp, sku=SKU, qty=1,
                                                          now=NOW, policy=policy))
    except errors.CoreError as exc:
        return f"start refused: {exc.code}"
    try:
        await db.run(lambda s: confirm(s, employee_id=emp, code=pending.code, now=NOW,
                                       policy=policy))
    except errors.CoreError as exc:
        return f"confirm refused: {exc.code}"
    except Exception as exc:  # noqa: BLE001 - a benchmark reports failures, it does not stop
        return f"confirm failed: {type(exc).__name__}"
    return "ordered"


async def _figures(db: Database) -> dict[str, object]:
    from core.ledger.verify import verify

    async with db.engine.connect() as conn:
        orders = await conn.scalar(select(func.count()).select_from(Order).where(Order.sku == SKU))
        item = (await conn.execute(select(CatalogItem.stock, CatalogItem.sold)
                                   .where(CatalogItem.sku == SKU))).one()
        cached_negative = await conn.scalar(
            select(func.count()).select_from(Account)
            .where(Account.kind == "employee", Account.balance < 0))
        per_account = (select(Entry.account_id, func.sum(Entry.amount).label("net"))
                       .join(Account, Account.id == Entry.account_id)
                       .where(Account.kind == "employee").group_by(Entry.account_id).subquery())
        entry_negative = await conn.scalar(
            select(func.count()).select_from(per_account).where(per_account.c.net < 0))

    async def check(s: AsyncSession) -> list[str]:
        return await verify(s)

    problems = await db.run(check)
    return {"orders": orders, "stock": item.stock, "sold": item.sold,
            "negative": int(cached_negative or 0) + int(entry_negative or 0), "verify": problems}


async def run(url: str, args: argparse.Namespace, policy: Policy) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        far = NOW + timedelta(days=300)
        seeded = await bulk_seed(db, employees=args.buyers, lots_per_employee=1,
                                 amount=PRICE * 10, expires=lambda _i, _j: far, now=NOW,
                                 prefix="F")
        await _item(db, policy, args.stock)
        start = time.perf_counter()
        outcomes = Counter(await asyncio.gather(*(_attempt(db, policy, i)
                                                  for i in range(args.buyers))))
        elapsed = time.perf_counter() - start
        fig = await _figures(db)
    finally:
        await db.dispose()
    name = "sqlite" if url.startswith("sqlite") else "postgres"
    problems = fig["verify"]
    print(f"  {name:<8} orders created {fig['orders']} (must be {args.stock}); "
          f"item stock {fig['stock']}, sold {fig['sold']}; negative balances {fig['negative']} "
          f"(must be 0)")
    print(f"  {'':<8} verify(): {'OK' if not problems else problems}")
    print(f"  {'':<8} {args.buyers} concurrent redemptions in {elapsed:.2f} s (goal < 3 s); "
          f"{args.buyers / elapsed:.0f} attempts/s; seeding took {seeded:.1f} s")
    for outcome, n in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {'':<8}   {n:5d}  {outcome}")
    if fig["orders"] != args.stock or fig["negative"] or problems:
        raise SystemExit(f"B3 {name}: correctness check failed")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buyers", type=int, default=2000, help="concurrent redeeming employees")
    ap.add_argument("--stock", type=int, default=100, help="stock of the item")
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"),
                    help="also run on a fresh database next to this PostgreSQL URL")
    args = ap.parse_args(argv)
    policy = load_policy(POLICY_FILE)
    print(f"B3 {args.buyers} buyers, stock {args.stock} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/b3.db", args, policy))
    if args.postgres:
        url, drop = pg_database(args.postgres, "b3")
        try:
            asyncio.run(run(url, args, policy))
        finally:
            drop()


if __name__ == "__main__":
    main()
