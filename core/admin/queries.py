"""Paged reads behind the admin API and the HR console.

Every list is keyset-paginated: the caller passes the sort key of the last row it has (``after``)
and gets the next ``limit`` rows, so a page costs the same on row 10 and on row 1,000,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.awards.service import allowance_status
from core.directory.service import get, mask_email, mask_mobile
from core.models import (
    ApprovalRequest,
    ApprovalStep,
    CatalogItem,
    Employee,
    Entry,
    LedgerTransaction,
    Lot,
    Order,
)
from core.policy import Policy


@dataclass(frozen=True)
class LotView:
    id: int
    amount: int
    remaining: int
    expires_at: datetime


@dataclass(frozen=True)
class EmployeeDetail:
    employee: Employee
    balance: int
    allowance_limit: int
    allowance_used: int
    allowance_left: int
    lots: list[LotView]


@dataclass(frozen=True)
class HistoryRow:
    transaction_id: int
    at: datetime
    amount: int
    kind: str
    reason: str
    ref: str | None
    actor: str


@dataclass(frozen=True)
class DeskOrder:
    id: int
    order_no: str
    employee_id: str
    employee_name: str
    department: str
    contact: str
    sku: str
    item_name: str
    qty: int
    points: int
    status: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class PendingApproval:
    id: int
    kind: str
    subject_id: str
    requester_id: str
    summary: str
    amount: int
    status: str
    created_at: datetime
    approver: str | None


async def employees(
    session: AsyncSession, *, q: str | None, department: str | None, active: bool | None,
    after: str | None, limit: int,
) -> list[Employee]:
    """The directory by employee id; ``q`` matches id, name or department (case-insensitive)."""
    stmt = select(Employee)
    if q:
        needle = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Employee.employee_id).like(needle),
                              func.lower(Employee.name).like(needle),
                              func.lower(Employee.department).like(needle)))
    if department:
        stmt = stmt.where(Employee.department == department)
    if active is not None:
        stmt = stmt.where(Employee.active.is_(active))
    if after:
        stmt = stmt.where(Employee.employee_id > after)
    return list(await session.scalars(stmt.order_by(Employee.employee_id).limit(limit)))


async def employee_detail(
    session: AsyncSession, *, employee_id: str, now: datetime, policy: Policy,
) -> EmployeeDetail:
    """One employee with balance, this month's allowance and the open lots (soonest first)."""
    emp = await get(session, employee_id)
    acc = await ledger.employee_account(session, emp.employee_id)
    bal = await ledger.balance(session, employee_id=emp.employee_id, now=now)
    allowance = await allowance_status(session, giver_id=emp.employee_id, now=now, policy=policy)
    lots = await session.scalars(
        select(Lot).where(Lot.account_id == acc.id, Lot.remaining > 0, Lot.expires_at > now)
        .order_by(Lot.expires_at, Lot.id))
    return EmployeeDetail(emp, bal.balance, allowance.limit, allowance.used, allowance.left,
                          [LotView(x.id, x.amount, x.remaining, x.expires_at) for x in lots])


async def history(
    session: AsyncSession, *, employee_id: str, before: tuple[datetime, int] | None, limit: int,
) -> list[HistoryRow]:
    """Net change per ledger transaction for the employee, newest first, with reason and actor.
    ``before`` is the (time, transaction id) of the last row of the previous page."""
    emp = await get(session, employee_id)
    acc = await ledger.employee_account(session, emp.employee_id)
    tx = LedgerTransaction
    stmt = (select(tx.id, tx.created_at, func.sum(Entry.amount), tx.kind, tx.reason, tx.ref,
                   tx.actor)
            .join(Entry, Entry.transaction_id == tx.id)
            .where(Entry.account_id == acc.id)
            .group_by(tx.id, tx.created_at, tx.kind, tx.reason, tx.ref, tx.actor))
    if before is not None:
        at, tx_id = before
        stmt = stmt.where(or_(tx.created_at < at, and_(tx.created_at == at, tx.id < tx_id)))
    rows = await session.execute(stmt.order_by(tx.created_at.desc(), tx.id.desc()).limit(limit))
    return [HistoryRow(i, at, int(n), kind, reason, ref, actor)
            for i, at, n, kind, reason, ref, actor in rows]


async def desk_orders(
    session: AsyncSession, *, state: str | None, sku: str | None, before_id: int | None,
    limit: int, include_code: bool = False,
) -> list[DeskOrder]:
    """The order desk, newest first: every order that needs HR (kind ``code`` only when asked),
    with who ordered it and how to reach them (mobile / e-mail masked)."""
    stmt = (select(Order, Employee, CatalogItem)
            .join(Employee, Employee.employee_id == Order.employee_id)
            .join(CatalogItem, CatalogItem.sku == Order.sku))
    if not include_code:
        stmt = stmt.where(CatalogItem.kind != "code")
    if state:
        stmt = stmt.where(Order.status == state)
    if sku:
        stmt = stmt.where(Order.sku == sku)
    if before_id is not None:
        stmt = stmt.where(Order.id < before_id)
    rows = await session.execute(stmt.order_by(Order.id.desc()).limit(limit))
    return [DeskOrder(o.id, o.order_no, o.employee_id, e.name, e.department,
                      mask_mobile(e.mobile) or mask_email(e.email), o.sku, i.name, o.qty, o.points,
                      o.status, o.note, o.created_at) for o, e, i in rows.tuples()]


async def approvals(
    session: AsyncSession, *, state: str, after_id: int, limit: int,
) -> list[PendingApproval]:
    """Approval requests in ``state`` by id, with the current step's approver (a person's id or
    ``role:<role>``) for pending ones."""
    step = ApprovalStep
    rows = await session.execute(
        select(ApprovalRequest, step)
        .outerjoin(step, and_(step.request_id == ApprovalRequest.id,
                              step.seq == ApprovalRequest.current_step))
        .where(ApprovalRequest.status == state, ApprovalRequest.id > after_id)
        .order_by(ApprovalRequest.id).limit(limit))
    out = []
    for req, cur in rows.tuples():
        who = None if cur is None else (cur.approver_id or f"role:{cur.approver_role}")
        out.append(PendingApproval(req.id, req.kind, req.subject_id, req.requester_id, req.summary,
                                   req.amount, req.status, req.created_at, who))
    return out


async def catalog(
    session: AsyncSession, *, active: bool | None, after: str | None, limit: int,
) -> list[CatalogItem]:
    """Every item (retired ones too unless ``active``) by SKU."""
    stmt = select(CatalogItem)
    if active is not None:
        stmt = stmt.where(CatalogItem.active.is_(active))
    if after:
        stmt = stmt.where(CatalogItem.sku > after)
    return list(await session.scalars(stmt.order_by(CatalogItem.sku).limit(limit)))
