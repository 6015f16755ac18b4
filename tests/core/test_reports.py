"""Worked examples for the month summary and leaderboards, built with the ledger directly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger
from core.db import Database
from core.ledger.verify import verify
from core.models import CatalogItem, Order
from core.policy import Policy
from core.reports.service import (
    DepartmentRow,
    LeaderRow,
    TopItem,
    leaderboard,
    month_summary,
    parse_month,
    summary_csv,
)
from tests.factories import add_employee

FEB = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)
MARCH_1_LOCAL = datetime(2026, 2, 28, 17, 0, tzinfo=UTC)  # 01:00 on 1 March in Shanghai
APRIL_1_LOCAL = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 April in Shanghai
JAN = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)


async def _award(s: AsyncSession, policy: Policy, emp: str, amount: int, key: str, at: datetime) -> None:
    await ledger.credit(s, employee_id=emp, amount=amount, key=key, kind="award", actor="X",
                        reason="谢谢帮助", now=at, policy=policy)


async def _grant(s: AsyncSession, policy: Policy, emp: str, amount: int, key: str, at: datetime,
                 expires_at: datetime | None = None) -> None:
    await ledger.credit(s, employee_id=emp, amount=amount, key=key, kind="grant", actor="HR",
                        reason="发放", now=at, policy=policy, expires_at=expires_at)


async def _order(s: AsyncSession, now: datetime, no: str, emp: str, sku: str, qty: int, points: int,
                 status: str) -> None:
    await ledger.debit(s, employee_id=emp, amount=points, key=f"redeem:{no}", kind="redeem",
                       actor=emp, reason=sku, now=now, to="escrow", ref=no)
    s.add(Order(order_no=no, employee_id=emp, sku=sku, qty=qty, points=points, status=status,
                month="2026-03", created_at=now, updated_at=now))


async def _build(db: Database, policy: Policy, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "A1", "张三", department="研发部")
        await add_employee(s, "A2", "李四", department="研发部")
        await add_employee(s, "B1", "Amy", department="销售部")
        await add_employee(s, "B2", "Bob", department="销售部")
        s.add_all([CatalogItem(sku="CUP", name="马克杯", points=50, sold=1),
                   CatalogItem(sku="TEA", name="茶叶", points=20, sold=2)])
        await _grant(s, policy, "B1", 10, "feb", FEB, expires_at=datetime(2026, 3, 10, tzinfo=UTC))
        await _award(s, policy, "B2", 40, "aw0", JAN)
        await _award(s, policy, "A2", 20, "aw1", MARCH_1_LOCAL)
        await ledger.expire_due(s, now=datetime(2026, 3, 11, tzinfo=UTC))
        await _grant(s, policy, "A1", 200, "g1", now)
        await _grant(s, policy, "B1", 100, "g2", now)
        await _grant(s, policy, "B2", 25, "g3", now, expires_at=now + timedelta(days=10))
        await _award(s, policy, "A2", 30, "aw2", now)
        await _award(s, policy, "B1", 20, "aw3", now)
        await _award(s, policy, "B2", 20, "aw5", now)
        await _award(s, policy, "A1", 15, "aw4", APRIL_1_LOCAL)
        await _order(s, now, "O1", "A1", "CUP", 1, 50, "fulfilled")
        await ledger.transfer(s, source="escrow", to="redeemed", amount=50, key="fulfil:O1",
                              kind="fulfil", actor="HR", reason="发货", now=now, ref="O1")
        await _order(s, now, "O2", "B1", "TEA", 2, 40, "placed")
        await _order(s, now, "O3", "A1", "CUP", 1, 30, "cancelled")
        await ledger.refund(s, original_key="redeem:O3", key="cancel:O3", actor="A1",
                            reason="取消", now=now, policy=policy)
        await ledger.debit(s, employee_id="A2", amount=5, key="d1", kind="deduct", actor="HR",
                           reason="扣分", now=now, to="adjustment")


async def test_month_summary_figures(db: Database, policy: Policy, now: datetime) -> None:
    await _build(db, policy, now)
    async with db.uow() as s:
        summary = await month_summary(s, actor_id="cli", month="2026-03", now=now, policy=policy)
        assert await verify(s) == []
    # 200 + 100 + 25 granted, 20 + 30 + 20 + 20 awarded (the 1-March-local award counts)
    assert (summary.issued, summary.redeemed, summary.expired) == (415, 50, 10)
    assert (summary.refunded, summary.deducted) == (30, 5)
    assert (summary.awards_count, summary.awards_points) == (4, 90)
    assert (summary.expiring_30d, summary.expiring_employees) == (25, 1)
    # the top items are the orders "redeemed" counts: handed over this month (O1), not the open
    # O2 (its 40 points wait in escrow) nor the cancelled O3
    assert summary.top_items == [TopItem("CUP", "马克杯", 1, 50)]
    assert sum(i.points for i in summary.top_items) == summary.redeemed
    assert (summary.open_orders, summary.open_points) == (1, 40)
    assert summary.by_department == [DepartmentRow("研发部", 250, 50), DepartmentRow("销售部", 165, 0)]


async def test_other_months(db: Database, policy: Policy, now: datetime) -> None:
    await _build(db, policy, now)
    async with db.uow() as s:
        feb = await month_summary(s, actor_id="cli", month="2026-2", now=now, policy=policy)
        april = await month_summary(s, actor_id="cli", month="2026-04", now=now, policy=policy)
    assert (feb.month, feb.issued, feb.awards_count, feb.top_items) == ("2026-02", 10, 0, [])
    assert (april.issued, april.awards_points, april.redeemed) == (15, 15, 0)


async def test_summary_csv(db: Database, policy: Policy, now: datetime) -> None:
    await _build(db, policy, now)
    async with db.uow() as s:
        text = summary_csv(await month_summary(s, actor_id="cli", month="2026-03", now=now, policy=policy))
    assert text.startswith("\ufeffmetric,value\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert ["issued", "415"] in rows and ["CUP", "马克杯", "1", "50"] in rows
    assert ["deducted", "5"] in rows and ["open_orders", "1"] in rows
    assert ["研发部", "250", "50"] in rows


@pytest.mark.parametrize(("text", "month"), [("2026-03", "2026-03"), (" 2026-3 ", "2026-03"),
                                             ("2026/12", "2026-12")])
def test_parse_month(text: str, month: str) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize("text", ["2026-13", "March", "26-03", ""])
def test_parse_month_refuses(text: str) -> None:
    with pytest.raises(errors.InvalidMonth):
        parse_month(text)


async def test_leaderboard_by_period_and_department(db: Database, policy: Policy, now: datetime) -> None:
    await _build(db, policy, now)
    async with db.uow() as s:
        month = await leaderboard(s, period="month", department=None, now=now, policy=policy)
        sales = await leaderboard(s, period="month", department="销售部", now=now, policy=policy)
        quarter = await leaderboard(s, period="quarter", department=None, now=now, policy=policy)
        year = await leaderboard(s, period="year", department=None, now=now, policy=policy, limit=3)
        april = await leaderboard(s, period="month", department=None,
                                  now=APRIL_1_LOCAL + timedelta(days=1), policy=policy)
    assert month == [LeaderRow(1, "A2", "李四", "研发部", 50), LeaderRow(2, "B1", "Amy", "销售部", 20),
                     LeaderRow(3, "B2", "Bob", "销售部", 20)]  # tie ordered by name
    assert [(r.rank, r.employee_id) for r in sales] == [(1, "B1"), (2, "B2")]
    assert [(r.employee_id, r.points) for r in quarter] == [("B2", 60), ("A2", 50), ("B1", 20)]
    assert [(r.employee_id, r.points) for r in year] == [("B2", 60), ("A2", 50), ("B1", 20)]
    assert [(r.employee_id, r.points) for r in april] == [("A1", 15)]


async def test_leaderboard_refuses_unknown_period(db: Database, policy: Policy, now: datetime) -> None:
    with pytest.raises(errors.InvalidInput):
        async with db.uow() as s:
            await leaderboard(s, period="week", department=None, now=now, policy=policy)
