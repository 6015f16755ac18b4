"""Monthly summary (报表), leaderboards (排行) and the summary's CSV form.

Figures come from the ledger, by transaction time within local month bounds:
- issued: points leaving system:issuance (HR grants, rules, awards, applications);
- redeemed / expired / deducted: points arriving at system:redeemed / :expired / :adjustment;
  an order's points arrive at system:redeemed when it is handed over (fulfilled), so
  "redeemed" and the top items count the same orders: those handed over in the month;
- refunded: points returned to employees by refund transactions;
- awards: peer-award credits (transactions of kind ``award``), counted per recipient;
- open orders: orders waiting for approval or to be handed over now (their points in escrow).
Redemptions are attributed to the employee whose points the transaction moved, or else to the
order named by the transaction's ``ref``. The ledger figures come from ``core.reports.rollup``
(stored per month, plus the transactions posted since), which also says which department a
transaction counts for.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.access import authorize_hr
from core.models import Account, CatalogItem, Employee, Entry, LedgerTransaction, Lot, Order
from core.policy import Policy
from core.reports import rollup
from core.timeutil import add_months, local_date, month_bounds, start_of_local_day

EXPIRING_DAYS = 30
TOP_ITEMS = 10
PERIODS = ("month", "last_month", "quarter", "year")
OPEN_ORDER_STATES = ("pending_approval", "placed")
_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})")


@dataclass(frozen=True)
class TopItem:
    sku: str
    name: str
    qty: int
    points: int


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    issued: int
    redeemed: int


@dataclass(frozen=True)
class MonthSummary:
    month: str
    issued: int
    redeemed: int
    expired: int
    refunded: int
    deducted: int
    awards_count: int
    awards_points: int
    expiring_30d: int
    expiring_employees: int
    open_orders: int = 0
    open_points: int = 0
    top_items: list[TopItem] = field(default_factory=list)
    by_department: list[DepartmentRow] = field(default_factory=list)


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    employee_id: str
    name: str
    department: str
    points: int


def parse_month(text: str) -> str:
    """``2026-03`` (also ``2026-3``, ``2026/03``) → ``2026-03``; InvalidMonth otherwise."""
    m = _MONTH.fullmatch(text.strip())
    if m is None or not 1 <= int(m[2]) <= 12:
        raise errors.InvalidMonth(text=text.strip())
    return f"{m[1]}-{int(m[2]):02d}"


async def _top_items(session: AsyncSession, start: datetime, end: datetime) -> list[TopItem]:
    """Items of the orders handed over in [start, end): the fulfil transactions that make up
    "redeemed", so the two always count the same orders."""
    qty, points = func.sum(Order.qty), func.sum(Order.points)
    rows = await session.execute(
        select(Order.sku, CatalogItem.name, qty, points)
        .select_from(LedgerTransaction)
        .join(Order, Order.order_no == LedgerTransaction.ref)
        .join(CatalogItem, CatalogItem.sku == Order.sku)
        .where(LedgerTransaction.kind == "fulfil", LedgerTransaction.created_at >= start,
               LedgerTransaction.created_at < end)
        .group_by(Order.sku, CatalogItem.name)
        .order_by(qty.desc(), points.desc(), Order.sku).limit(TOP_ITEMS))
    return [TopItem(sku, name, int(q), int(p)) for sku, name, q, p in rows]


async def _open_orders(session: AsyncSession) -> tuple[int, int]:
    """(orders, points) waiting for approval or to be handed over, now."""
    row = (await session.execute(
        select(func.count(), func.coalesce(func.sum(Order.points), 0))
        .where(Order.status.in_(OPEN_ORDER_STATES)))).one()
    return int(row[0]), int(row[1])


async def _expiring(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """(points, employees) of live lots expiring within EXPIRING_DAYS after ``now``."""
    row = (await session.execute(
        select(func.coalesce(func.sum(Lot.remaining), 0), func.count(func.distinct(Lot.account_id)))
        .where(Lot.remaining > 0, Lot.expires_at > now,
               Lot.expires_at <= now + timedelta(days=EXPIRING_DAYS)))).one()
    return int(row[0]), int(row[1])


def departments(figs: rollup.Figures) -> list[DepartmentRow]:
    """Issued and redeemed per department, sorted by name, departments with neither left out."""
    issued = rollup.by_department(figs, rollup.DEPT_ISSUED)
    redeemed = rollup.by_department(figs, rollup.DEPT_REDEEMED)
    return [DepartmentRow(d, issued.get(d, 0), redeemed.get(d, 0))
            for d in sorted(set(issued) | set(redeemed))]


async def summary_of(
    session: AsyncSession, *, month: str, figs: rollup.Figures, now: datetime, policy: Policy,
) -> MonthSummary:
    """The summary of ``month`` from its ledger figures, with the order and lot figures read live
    (orders change state and lots are spent, so those are never stored)."""
    start, end = month_bounds(month, policy)
    expiring = await _expiring(session, now)
    open_orders = await _open_orders(session)
    return MonthSummary(
        month=month,
        **{metric: rollup.total(figs, metric) for metric in rollup.TOTALS},
        expiring_30d=expiring[0], expiring_employees=expiring[1],
        open_orders=open_orders[0], open_points=open_orders[1],
        top_items=await _top_items(session, start, end),
        by_department=departments(figs),
    )


async def month_summary(
    session: AsyncSession, *, actor_id: str, month: str, now: datetime, policy: Policy,
) -> MonthSummary:
    """The figures of local month ``month`` (YYYY-MM); "expiring" looks 30 days ahead of ``now``.
    Forbidden unless ``actor_id`` is an operator or HR / admin."""
    await authorize_hr(session, actor_id, "report")
    month = parse_month(month)
    figs = (await rollup.month_figures(session, [month], policy))[month]
    return await summary_of(session, month=month, figs=figs, now=now, policy=policy)


def summary_csv(summary: MonthSummary) -> str:
    """The summary as CSV blocks (totals, top items, departments) separated by blank lines: the
    same figures and sections as ``jifen report`` and chat 报表.

    Starts with a UTF-8 BOM so spreadsheet programs show the Chinese names correctly.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["metric", "value"])
    w.writerows([["month", summary.month], *([name, value] for name, value in totals(summary))])
    w.writerow([])
    w.writerow(["sku", "name", "qty", "points"])
    w.writerows([[i.sku, i.name, i.qty, i.points] for i in summary.top_items])
    w.writerow([])
    w.writerow(["department", "issued", "redeemed"])
    w.writerows([[d.department, d.issued, d.redeemed] for d in summary.by_department])
    return "\ufeff" + out.getvalue()


def totals(summary: MonthSummary) -> list[tuple[str, int]]:
    """The report's figures by their CSV names, in the order every report shows them."""
    return [("issued", summary.issued), ("redeemed", summary.redeemed),
            ("expired", summary.expired), ("deducted", summary.deducted),
            ("refunded", summary.refunded), ("awards_count", summary.awards_count),
            ("awards_points", summary.awards_points),
            (f"expiring_{EXPIRING_DAYS}d", summary.expiring_30d),
            (f"expiring_{EXPIRING_DAYS}d_employees", summary.expiring_employees),
            ("open_orders", summary.open_orders), ("open_orders_points", summary.open_points)]


def period_bounds(period: str, now: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """UTC [start, end) of the local month, quarter or year containing ``now``."""
    if period not in PERIODS:
        raise errors.InvalidInput(field="period", message=f"{period!r} is not one of "
                                  f"{'|'.join(PERIODS)}")
    today = local_date(now, policy)
    if period == "last_month":
        first = add_months(date(today.year, today.month, 1), -1)
        return start_of_local_day(first, policy), start_of_local_day(add_months(first, 1), policy)
    first_month = {"month": today.month, "quarter": (today.month - 1) // 3 * 3 + 1,
                   "year": 1}[period]
    first = date(today.year, first_month, 1)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    return start_of_local_day(first, policy), start_of_local_day(add_months(first, months), policy)


AWARD_KINDS = ("award", "award_undo", "award_revoke")  # credits and their reversals


async def leaderboard(
    session: AsyncSession, *, period: str, department: str | None, now: datetime, policy: Policy,
    limit: int = 10,
) -> list[LeaderRow]:
    """Active employees ranked by points received through peer awards (ledger kind ``award``,
    less undone and revoked ones) in the local period containing ``now``; ties ordered by name,
    ranks 1..n without gaps."""
    start, end = period_bounds(period, now, policy)
    return await receivers(session, start=start, end=end, department=department, limit=limit)


async def receivers(
    session: AsyncSession, *, start: datetime, end: datetime, department: str | None,
    limit: int = 10,
) -> list[LeaderRow]:
    """The leaderboard of award points received in [start, end)."""
    points = func.sum(Entry.amount)
    stmt = (select(Employee.employee_id, Employee.name, Employee.department, points)
            .select_from(Entry)
            .join(Account, Account.id == Entry.account_id)
            .join(Employee, Employee.employee_id == Account.employee_id)
            .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
            .where(LedgerTransaction.kind.in_(AWARD_KINDS),
                   LedgerTransaction.created_at >= start, LedgerTransaction.created_at < end,
                   Employee.active.is_(True))
            .group_by(Employee.employee_id, Employee.name, Employee.department)
            .having(points > 0)
            .order_by(points.desc(), Employee.name, Employee.employee_id).limit(limit))
    if department:
        stmt = stmt.where(Employee.department == department)
    rows = await session.execute(stmt)
    return [LeaderRow(rank, emp, name, dept, int(p))
            for rank, (emp, name, dept, p) in enumerate(rows, start=1)]
