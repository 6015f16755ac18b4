"""Figures for the HR console's dashboard (概览), read from the ledger and the workflow tables.

The month figures are the monthly report's own (``core.reports.rollup.month_figures``, read once
for all twelve months), so a dashboard number always equals the report's number for the month.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    AllowanceUse,
    ApprovalRequest,
    ApprovalStep,
    Award,
    CatalogItem,
    Employee,
    Order,
)
from core.policy import Policy
from core.reports import rollup
from core.reports.service import DepartmentRow, departments
from core.timeutil import add_months, local_date, month_bounds

COUNTED_ALLOWANCE = ("held", "spent")


@dataclass(frozen=True)
class MonthFlow:
    month: str
    issued: int
    redeemed: int
    expired: int
    deducted: int


@dataclass(frozen=True)
class Participation:
    active: int
    gave: int
    received: int


@dataclass(frozen=True)
class WaitingApproval:
    id: int
    kind: str
    summary: str
    requester: str
    approver: str
    created_at: datetime


def last_months(now: datetime, policy: Policy, count: int = 12) -> list[str]:
    """``count`` local months ending with the current one, oldest first."""
    first = local_date(now, policy).replace(day=1)
    return [add_months(first, -i).strftime("%Y-%m") for i in range(count - 1, -1, -1)]


def month_flows(figs: dict[str, rollup.Figures], months: list[str]) -> list[MonthFlow]:
    return [MonthFlow(m, *(rollup.total(figs[m], k)
                           for k in ("issued", "redeemed", "expired", "deducted")))
            for m in months]


async def participation(session: AsyncSession, *, month: str, policy: Policy) -> Participation:
    """Active employees, and how many of them gave / received an approved award in ``month``
    (one statement)."""
    start, end = month_bounds(month, policy)
    in_month = (Award.status == "approved", Award.created_at >= start, Award.created_at < end)
    row = (await session.execute(select(
        select(func.count()).where(Employee.active.is_(True)).scalar_subquery(),
        select(func.count(func.distinct(Award.giver_id))).where(*in_month).scalar_subquery(),
        select(func.count(func.distinct(Award.recipient_id))).where(*in_month).scalar_subquery(),
    ))).one()
    return Participation(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


async def allowance_used(session: AsyncSession, *, month: str) -> int:
    total = await session.scalar(select(func.coalesce(func.sum(AllowanceUse.amount), 0)).where(
        AllowanceUse.month == month, AllowanceUse.status.in_(COUNTED_ALLOWANCE)))
    return int(total or 0)


async def top_values(session: AsyncSession, *, month: str, policy: Policy, limit: int = 8,
                     ) -> list[tuple[str, int]]:
    """Company-value hashtags of approved awards in ``month``, most used first."""
    start, end = month_bounds(month, policy)
    rows = await session.scalars(select(Award.hashtags).where(
        Award.status == "approved", Award.created_at >= start, Award.created_at < end,
        Award.hashtags != ""))
    counts: Counter[str] = Counter()
    for tags in rows:
        counts.update(tag for tag in tags.replace(",", " ").split() if tag)
    return counts.most_common(limit)


async def orders_waiting(session: AsyncSession) -> int:
    """Orders HR must act on: placed, of any kind but ``code`` (codes are handed out at once)."""
    return int(await session.scalar(
        select(func.count()).select_from(Order).join(CatalogItem, CatalogItem.sku == Order.sku)
        .where(Order.status == "placed", CatalogItem.kind != "code")) or 0)


async def approvals_waiting(session: AsyncSession, *, limit: int = 200) -> list[WaitingApproval]:
    """Pending approval requests, oldest first, with the requester and the current approver."""
    requester = select(Employee.name).where(
        Employee.employee_id == ApprovalRequest.requester_id).scalar_subquery()
    approver = (select(func.coalesce(Employee.name, ApprovalStep.approver_id))
                .select_from(ApprovalStep)
                .outerjoin(Employee, Employee.employee_id == ApprovalStep.approver_id)
                .where(ApprovalStep.request_id == ApprovalRequest.id,
                       ApprovalStep.seq == ApprovalRequest.current_step)
                .limit(1).scalar_subquery())
    rows = await session.execute(
        select(ApprovalRequest.id, ApprovalRequest.kind, ApprovalRequest.summary, requester,
               approver, ApprovalRequest.created_at)
        .where(ApprovalRequest.status == "pending")
        .order_by(ApprovalRequest.created_at, ApprovalRequest.id).limit(limit))
    return [WaitingApproval(i, k, s or "", r or "", a or "-", c) for i, k, s, r, a, c in rows]



def departments_over(figs: dict[str, rollup.Figures]) -> list[DepartmentRow]:
    """Issued and redeemed per department over every month in ``figs``."""
    together = rollup.Figures()
    for month in figs.values():
        together.update(month)
    return departments(together)
