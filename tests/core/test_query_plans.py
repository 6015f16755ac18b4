"""The statements of the chat path's commands (an award, a balance, naming someone, the sender,
a redemption, the history) find their rows through indexes: none reads a whole table of people,
awards, allowance, orders or ledger, so their cost does not grow with the company. Each statement is taken as the database received it (the engine's
``before_cursor_execute``) and explained with its own parameters. SQLite keeps no statistics and
picks among usable indexes by their shape; PostgreSQL is asked with sequential scans turned off,
so it shows an index wherever one serves the statement."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from config.catalog_file import parse_catalog
from core import ledger
from core.awards import service as awards
from core.catalog.importer import import_items
from core.db import Database
from core.directory import service as directory
from core.orders import service as orders
from core.policy import Policy
from tests.factories import add_employee

# the tables whose size grows with the company and its history
GROWING = ("employees", "awards", "allowance_uses", "accounts", "lots", "ledger_entries",
           "ledger_transactions", "idempotency_keys", "orders", "confirmations")


async def _org(db: Database, policy: Policy, now: datetime) -> None:
    """Sixty people with points who have given each other awards this month, so every index
    has rows, and two who hold roles (HR1 hr and admin, HR2 admin); one item in the catalog."""
    async with db.uow() as s:
        for i in range(60):
            await add_employee(s, f"P{i:02d}", f"同事{i:02d}", wecom=f"p{i:02d}")
            await ledger.credit(s, employee_id=f"P{i:02d}", amount=100, key=f"plans:{i}",
                                kind="grant", actor="test", reason="seed", now=now, policy=policy)
        await add_employee(s, "AC", "Alice Chen", wecom="achen", locale="en")
        await add_employee(s, "HR1", "林芳", roles="hr|admin")
        await add_employee(s, "HR2", "黄蓉", roles="admin")
        items = parse_catalog("items:\n  - {sku: CUP, name: 杯子, points: 10, stock: 100}\n",
                              fmt="yaml")
        await import_items(s, items=items, now=now, policy=policy)
    for i in range(60):
        async with db.uow() as s:
            await awards.give(s, giver_id=f"P{i:02d}", recipient_ids=[f"P{(i + 1) % 60:02d}"],
                              amount=1, reason="谢谢帮忙支持", key=uuid.uuid4().hex, now=now,
                              policy=policy)


async def _selects(db: Database, work: Callable[[AsyncSession], Awaitable[object]],
                   ) -> list[tuple[str, Any]]:
    """The SELECTs ``work`` sent, with their parameters (run as a chat event's work runs)."""
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and sql.lstrip().upper().startswith("SELECT"):
            sent.append((sql, params))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await db.run(work)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert sent
    return sent


async def _plans(db: Database, selects: list[tuple[str, Any]]) -> list[str]:
    """One line of each statement's plan per step, as the database explains it."""
    plans: list[str] = []
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            for sql, params in selects:
                rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
                plans.append("\n".join(str(row[3]) for row in rows))
        else:
            await conn.exec_driver_sql("SET enable_seqscan = off")
            for sql, params in selects:
                rows = await conn.exec_driver_sql(f"EXPLAIN {sql}", tuple(params))
                plans.append("\n".join(str(row[0]) for row in rows))
            await conn.rollback()
    return plans


# partial indexes: a scan of one reads only the rows its predicate keeps (the role holders)
PARTIAL = ("ix_employees_with_roles",)


def _whole_tables(plan: str) -> list[str]:
    """The growing tables the plan reads whole."""
    lines = [line for line in plan.splitlines() if not any(ix in line for ix in PARTIAL)]
    return [t for t in GROWING for line in lines
            if line.strip().startswith((f"SCAN {t}", f"SCAN TABLE {t}"))  # SQLite
            or f"Seq Scan on {t} " in line or line.strip().endswith(f"Seq Scan on {t}")]


def _allowance_by_giver_and_month(plan: str) -> bool:
    return "ix_allowance_uses_giver_month" in plan


async def test_a_chat_award_reads_no_whole_table(db: Database, policy: Policy,
                                                 now: datetime) -> None:
    await _org(db, policy, now)

    async def award(s: AsyncSession) -> None:
        who = await directory.resolve(s, "@p07", sender="P03")
        await awards.give(s, giver_id="P03", recipient_ids=[who], amount=1,
                          reason="谢谢帮忙支持", key=uuid.uuid4().hex, now=now, policy=policy)

    plans = await _plans(db, await _selects(db, award))
    assert [_whole_tables(p) for p in plans] == [[] for _ in plans], plans
    using = [p for p in plans if "allowance_uses" in p]
    assert using and all(_allowance_by_giver_and_month(p) for p in using), using


async def test_a_balance_reply_reads_no_whole_table(db: Database, policy: Policy,
                                                    now: datetime) -> None:
    await _org(db, policy, now)

    async def balance(s: AsyncSession) -> None:
        await awards.balance_and_allowance(s, employee_id="P05", now=now, policy=policy)

    plans = await _plans(db, await _selects(db, balance))
    assert [_whole_tables(p) for p in plans] == [[] for _ in plans], plans
    assert any(_allowance_by_giver_and_month(p) for p in plans), plans


async def test_naming_someone_exactly_reads_no_whole_table(db: Database, policy: Policy,
                                                           now: datetime) -> None:
    """By id, platform id or full name: one statement through indexes. Only a first name
    ("Alice" for "Alice Chen", matched without case) needs the second statement."""
    await _org(db, policy, now)
    found: dict[str, str] = {}

    def naming(who: str) -> Callable[[AsyncSession], Awaitable[None]]:
        async def run(s: AsyncSession) -> None:
            found[who] = await directory.resolve(s, who, sender="P00")
        return run

    for who in ("P09", "@p09", "同事09", "Alice Chen"):
        plans = await _plans(db, await _selects(db, naming(who)))
        assert len(plans) == 1 and _whole_tables(plans[0]) == [], (who, plans)
    assert len(await _selects(db, naming("alice"))) == 2
    assert found == {"P09": "P09", "@p09": "P09", "同事09": "P09", "Alice Chen": "AC",
                     "alice": "AC"}


async def test_the_sender_a_redemption_and_the_history_read_no_whole_table(
        db: Database, policy: Policy, now: datetime) -> None:
    """A parcel's order also tells HR: its holders come from the rows with a role only."""
    await _org(db, policy, now)

    async def redeem(s: AsyncSession) -> None:
        me = await directory.sender(s, platform="wecom", user_id="p05")
        assert me is not None
        pending = await orders.start_redemption(s, employee_id=me.employee_id, sku="CUP", qty=1,
                                                now=now, policy=policy)
        await orders.confirm(s, employee_id=me.employee_id, code=pending.code, now=now,
                             policy=policy)

    async def history(s: AsyncSession) -> None:
        assert await ledger.history(s, employee_id="P05", limit=10)

    for work in (redeem, history):
        plans = await _plans(db, await _selects(db, work))
        assert [_whole_tables(p) for p in plans] == [[] for _ in plans], (work, plans)


async def test_the_role_holders_are_read_from_the_rows_with_a_role(
        db: Database, policy: Policy, now: datetime) -> None:
    await _org(db, policy, now)
    async with db.uow() as s:
        await add_employee(s, "HR3", "郭靖", roles="hr", active=False)
        await add_employee(s, "X1", "史通", roles="hrbp")  # LIKE '%hr%' finds it; not HR
    held: dict[str, list[str]] = {}

    async def holders(s: AsyncSession) -> None:
        for role in ("hr", "admin"):
            held[role] = [e.employee_id for e in await directory.role_holders(s, role)]

    plans = await _plans(db, await _selects(db, holders))
    assert held == {"hr": ["HR1"], "admin": ["HR1", "HR2"]}
    assert all("ix_employees_with_roles" in p for p in plans), plans
