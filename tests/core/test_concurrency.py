"""Stock never oversells and balances never go negative under concurrent confirmations."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from config.catalog_file import parse_catalog
from core import errors, ledger
from core.catalog.importer import import_items
from core.db import Database
from core.ledger.verify import verify
from core.models import Account, Base, CatalogItem, Order
from core.orders import service as orders
from core.orders.views import OrderView
from core.policy import Policy
from tests.factories import add_employee

ROOT = Path(__file__).resolve().parents[2]
FLASH = "items:\n  - {sku: FLASH, name: 秒杀耳机, points: 50, stock: 10, kind: physical}\n"


async def _flash_sale(db: Database, policy: Policy, now: datetime, people: int) -> list[tuple[str, str]]:
    """``people`` employees with 100 points each and an open confirmation for the 10 headphones."""
    pairs = []
    async with db.uow() as s:
        await add_employee(s, "HR", "林芳", roles="hr")
        await import_items(s, items=parse_catalog(FLASH, fmt="yaml"), now=now, policy=policy)
        for n in range(people):
            emp = f"E{n:04d}"
            await add_employee(s, emp)
            await ledger.credit(s, employee_id=emp, amount=100, key=f"g:{emp}", kind="grant",
                                actor="HR", reason="r", now=now, policy=policy)
            view = await orders.start_redemption(s, employee_id=emp, sku="FLASH", now=now,
                                                 policy=policy)
            pairs.append((emp, view.code))
    return pairs


async def _check_sold_out(db: Database) -> None:
    async with db.uow() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 10
        item = await s.get(CatalogItem, "FLASH")
        assert item is not None and (item.stock, item.sold) == (0, 10)
        negative = await s.scalar(select(func.count()).select_from(Account).where(Account.balance < 0))
        assert negative == 0
        assert await verify(s) == []


async def test_200_concurrent_confirmations_sell_exactly_the_stock(
    db: Database, policy: Policy, now: datetime
) -> None:
    pairs = await _flash_sale(db, policy, now, 200)

    async def one(emp: str, code: str) -> OrderView:
        return await db.run(lambda s: orders.confirm(s, employee_id=emp, code=code, now=now,
                                                     policy=policy))

    results = await asyncio.gather(*(one(e, c) for e, c in pairs), return_exceptions=True)
    assert sum(isinstance(r, OrderView) for r in results) == 10
    assert all(isinstance(r, OrderView | errors.OutOfStock) for r in results), results
    await _check_sold_out(db)


async def _reset(url: str) -> None:
    database = Database(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await conn.execute(text(
                "INSERT INTO accounts (code, kind, balance) SELECT 'system:' || n, 'system', 0 FROM "
                "unnest(ARRAY['issuance','escrow','redeemed','expired','adjustment']) AS n"))
    finally:
        await database.dispose()


async def _worker(job: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.core.redeem_worker", cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(job).encode()), timeout=300)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def test_two_processes_on_postgres_sell_exactly_the_stock(
    pg_url: str, policy: Policy, now: datetime
) -> None:
    await _reset(pg_url)
    db = Database(pg_url)
    try:
        pairs = await _flash_sale(db, policy, now, 200)
        start_at = time.time() + 4  # both interpreters are up by then and collide
        jobs = [{"url": pg_url, "now": now.isoformat(), "start_at": start_at, "pairs": half}
                for half in (pairs[::2], pairs[1::2])]
        summaries = await asyncio.gather(*(_worker(job) for job in jobs))
        assert sum(s["placed"] for s in summaries) == 10, summaries
        assert sum(s["out_of_stock"] for s in summaries) == 190, summaries
        assert all(s["other"] == [] for s in summaries), summaries
        await _check_sold_out(db)
    finally:
        await db.dispose()


async def test_one_employee_double_spending_gets_one_order(
    db: Database, policy: Policy, now: datetime
) -> None:
    catalog = ("items:\n  - {sku: A1, name: 耳机, points: 100}\n"
               "  - {sku: B1, name: 音箱, points: 100}\n")
    async with db.uow() as s:
        await add_employee(s, "E1")
        await import_items(s, items=parse_catalog(catalog, fmt="yaml"), now=now, policy=policy)
        await ledger.credit(s, employee_id="E1", amount=100, key="g", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy)
        codes = [(await orders.start_redemption(s, employee_id="E1", sku=sku, now=now,
                                                policy=policy)).code for sku in ("A1", "B1")]

    async def one(code: str) -> OrderView:
        return await db.run(lambda s: orders.confirm(s, employee_id="E1", code=code, now=now,
                                                     policy=policy))

    results = await asyncio.gather(*(one(c) for c in codes), return_exceptions=True)
    assert sum(isinstance(r, OrderView) for r in results) == 1
    assert sum(isinstance(r, errors.InsufficientPoints) for r in results) == 1, results
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E1", now=now)).balance == 0
        assert await s.scalar(select(func.count()).select_from(Order)) == 1
        assert await verify(s) == []


async def test_same_confirmation_clicked_twice_at_once(db: Database, policy: Policy, now: datetime) -> None:
    [(emp, code)] = await _flash_sale(db, policy, now, 1)

    async def click() -> OrderView:
        return await db.run(lambda s: orders.confirm(s, employee_id=emp, code=code, now=now,
                                                     policy=policy))

    first, second = await asyncio.gather(click(), click())
    assert first == second
    async with db.uow() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 1
        assert (await ledger.balance(s, employee_id=emp, now=now)).balance == 50
        assert await verify(s) == []


async def test_cancel_racing_fulfil_lets_exactly_one_win(db: Database, policy: Policy, now: datetime) -> None:
    [(emp, code)] = await _flash_sale(db, policy, now, 1)
    async with db.uow() as s:
        order = await orders.confirm(s, employee_id=emp, code=code, now=now, policy=policy)
    results = await asyncio.gather(
        db.run(lambda s: orders.cancel(s, actor_id=emp, order_no=order.order_no, now=now,
                                       policy=policy)),
        db.run(lambda s: orders.fulfil(s, actor_id="HR", order_no=order.order_no, note=None,
                                       now=now, policy=policy)),
        return_exceptions=True)
    assert sum(isinstance(r, OrderView) for r in results) == 1
    assert sum(isinstance(r, errors.BadOrderState) for r in results) == 1, results
    async with db.uow() as s:
        assert await verify(s) == []
