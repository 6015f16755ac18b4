"""The monthly report's ledger figures: a stored per-month rollup plus a live delta (B6).

A month's figures (points issued, redeemed, expired, deducted, refunded, awards, and issued /
redeemed per department) are sums over the ledger transactions created in that local month.
Summing a whole month at read time costs ~10 ms per 1,000 transactions; at 100,000 employees a
month holds tens of thousands. So:

- ``report_figures`` keeps, per (month, metric, department), the sum over every transaction with
  ``id <= watermark`` (``report_rollup``);
- a report reads those rows and adds the same sums over the transactions with ``id >
  watermark`` only (the primary key's range: a few minutes of postings);
- ``advance`` (the ``report-rollup`` job, every minute) folds transactions into the rows in
  batches, each batch with its watermark move in one database transaction, so a batch counts
  once or not at all. The state row is locked (``SKIP LOCKED`` on PostgreSQL), so two replicas
  never fold the same batch; the posting path writes nothing here.

The ledger is append-only, so a folded month never needs re-reading; corrections and reversals
are transactions of their own and are folded like any other. The stored and the live part use
the very same queries (``figures``), so rollup + delta equals the full scan
(tests/core/test_report_rollup.py checks that on both databases).

Departments: a transaction counts for the department its employee has when it is folded
(within minutes of posting). Someone moving later does not rewrite past months; transactions
not folded yet count for the current department.

Which ids are safe to fold: on SQLite the fold holds the write lock, so every id up to the
highest visible one is committed for good. On PostgreSQL ids come from a sequence and a lower id
can commit after a higher one is visible; the fold therefore notes a candidate watermark (the
highest visible id) with the snapshot's ``xmax`` and uses it only once every transaction that
was running then has ended (snapshot ``xmin`` ≥ that ``xmax``) and ``lag`` has passed — the way
PgQ cuts its batches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.db import Database
from core.models import (
    Account,
    Employee,
    Entry,
    LedgerTransaction,
    Order,
    ReportFigure,
    ReportRollup,
    utcnow,
)
from core.policy import Policy
from core.timeutil import add_months, month_bounds, month_key

NAME = "monthly"
BATCH = 5000  # transaction ids per fold transaction: keeps each one (and SQLite's lock) short
LAG = timedelta(seconds=10)  # PostgreSQL: a candidate watermark's minimum age
TOTALS = ("issued", "redeemed", "expired", "deducted", "refunded", "awards_count", "awards_points")
DEPT_ISSUED, DEPT_REDEEMED = "dept_issued", "dept_redeemed"
# figure -> (system account, True if the figure is what leaves it)
SYSTEM_FLOWS = {"issued": ("issuance", True), "redeemed": ("redeemed", False),
                "expired": ("expired", False), "deducted": ("adjustment", False)}
CREDIT_KINDS = {"award": ("awards_count", "awards_points"), "refund": (None, "refunded")}

Figures = Counter[tuple[str, str]]  # (metric, department) -> value; department '' for totals


@dataclass(frozen=True)
class Window:
    """Ledger transactions created in [start, end) with after < id <= upto (upto None: no cap)."""

    start: datetime
    end: datetime
    after: int = 0
    upto: int | None = None

    def where(self) -> list[ColumnElement[bool]]:
        if not self.after and self.upto is None:  # the full scan: the month's created_at range
            return [LedgerTransaction.created_at >= self.start,
                    LedgerTransaction.created_at < self.end]
        # The delta and the fold walk the primary key's range (a few minutes of postings, or one
        # batch). The month test is an expression, not the column, so neither SQLite nor
        # PostgreSQL walks the created_at index over the whole month instead.
        created = func.coalesce(LedgerTransaction.created_at, LedgerTransaction.created_at)
        found = [LedgerTransaction.id > self.after, created >= self.start, created < self.end]
        if self.upto is not None:
            found.append(LedgerTransaction.id <= self.upto)
        return found

    def ids(self) -> Select[tuple[int]]:
        return select(LedgerTransaction.id).where(*self.where())


# ---- the sums (one definition for the stored and the live part) ---------------------------

async def system_ids(session: AsyncSession) -> dict[str, int]:
    names = {name for name, _ in SYSTEM_FLOWS.values()}
    rows = await session.execute(select(Account.code, Account.id).where(
        Account.code.in_([f"system:{n}" for n in names])))
    return {code.removeprefix("system:"): acc_id for code, acc_id in rows}


async def _system_flows(session: AsyncSession, w: Window, systems: dict[str, int]) -> Figures:
    # ``account_id + 0``: an expression, so the planner walks the window's transactions and
    # probes ix_ledger_entries_tx_account_amount instead of every entry a system account has.
    rows = await session.execute(
        select(Entry.account_id,
               func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)),
               func.sum(case((Entry.amount > 0, Entry.amount), else_=0)))
        .where((Entry.account_id + 0).in_(list(systems.values())),
               Entry.transaction_id.in_(w.ids()))
        .group_by(Entry.account_id))
    by_account = {acc: (int(out or 0), int(into or 0)) for acc, out, into in rows}
    out = Figures()
    for metric, (name, leaving) in SYSTEM_FLOWS.items():
        flows = by_account.get(systems.get(name, -1), (0, 0))
        out[(metric, "")] = flows[0] if leaving else flows[1]
    return out


async def _credits(session: AsyncSession, w: Window) -> Figures:
    """Employee credits in award transactions (count, points) and refunds (points)."""
    rows = await session.execute(
        select(LedgerTransaction.kind, func.count(), func.coalesce(func.sum(Entry.amount), 0))
        .select_from(Entry)
        .join(Account, Account.id == Entry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
        .where(Account.kind == "employee", Entry.amount > 0,
               LedgerTransaction.kind.in_(list(CREDIT_KINDS)), *w.where())
        .group_by(LedgerTransaction.kind))
    out = Figures()
    for kind, count, points in rows:
        count_metric, points_metric = CREDIT_KINDS[kind]
        if count_metric:
            out[(count_metric, "")] += int(count)
        out[(points_metric, "")] += int(points)
    return out


async def _issued_by_department(session: AsyncSession, w: Window, issuance: int | None) -> Figures:
    source = aliased(Entry)
    from_issuance = (select(source.transaction_id)
                     .where(source.account_id == issuance, source.amount < 0,
                            source.transaction_id.in_(w.ids())))
    rows = await session.execute(
        select(Employee.department, func.sum(Entry.amount))
        .join(Account, Account.id == Entry.account_id)
        .join(Employee, Employee.employee_id == Account.employee_id)
        .where(Entry.amount > 0, Entry.transaction_id.in_(from_issuance))
        .group_by(Employee.department))
    return Figures({(DEPT_ISSUED, dept or ""): int(total) for dept, total in rows})


async def _redeemed_by_department(session: AsyncSession, w: Window, redeemed: int | None) -> Figures:
    """Points arriving at system:redeemed, for the department of the employee whose points the
    transaction moved, or else of the order named by the transaction's ``ref``."""
    red, payer_emp = aliased(Entry), aliased(Employee)
    payer = (select(Entry.transaction_id, func.min(Account.employee_id).label("employee_id"))
             .join(Account, Account.id == Entry.account_id)
             .where(Account.kind == "employee", Entry.amount < 0,
                    Entry.transaction_id.in_(w.ids()))
             .group_by(Entry.transaction_id).subquery())
    rows = await session.execute(
        select(payer_emp.department, Employee.department, red.amount)
        .select_from(red)
        .join(LedgerTransaction, LedgerTransaction.id == red.transaction_id)
        .outerjoin(payer, payer.c.transaction_id == red.transaction_id)
        .outerjoin(payer_emp, payer_emp.employee_id == payer.c.employee_id)
        .outerjoin(Order, Order.order_no == LedgerTransaction.ref)
        .outerjoin(Employee, Employee.employee_id == Order.employee_id)
        .where((red.account_id + 0) == redeemed, red.amount > 0, *w.where()))  # as above
    out = Figures()
    for by_payer, by_order, amount in rows:
        dept = by_payer if by_payer is not None else (by_order or "")
        out[(DEPT_REDEEMED, dept)] += int(amount)
    return out


async def figures(session: AsyncSession, w: Window, systems: dict[str, int]) -> Figures:
    """Every figure of the transactions in ``w``; zeros left out."""
    out = await _system_flows(session, w, systems)
    out.update(await _credits(session, w))
    out.update(await _issued_by_department(session, w, systems.get("issuance")))
    out.update(await _redeemed_by_department(session, w, systems.get("redeemed")))
    return Figures({k: v for k, v in out.items() if v})


# ---- reading: stored rows + the live delta --------------------------------------------------

def _months_between(first: datetime, last: datetime, policy: Policy) -> list[str]:
    """Local months from the one holding ``first`` to the one holding ``last``."""
    month, end = month_key(first, policy), month_key(last, policy)
    found = [month]
    while month < end:
        month = add_months(datetime.strptime(month, "%Y-%m").date(), 1).strftime("%Y-%m")
        found.append(month)
    return found


async def _stored(session: AsyncSession, months: list[str], policy: Policy,
                  ) -> tuple[int, dict[str, Figures]]:
    """The watermark and the stored rows of ``months``, read in one statement (one snapshot on
    PostgreSQL: a fold committing meanwhile cannot make a batch count twice or not at all)."""
    rows = (await session.execute(
        select(ReportRollup.watermark, ReportRollup.timezone, ReportFigure.month,
               ReportFigure.metric, ReportFigure.department, ReportFigure.value)
        .select_from(ReportRollup)
        .outerjoin(ReportFigure, ReportFigure.month.in_(months))
        .where(ReportRollup.name == NAME))).all()
    out: dict[str, Figures] = {m: Figures() for m in months}
    if not rows or rows[0][1] != policy.timezone:  # never folded, or months of another zone
        return 0, out
    for _, _, month, metric, dept, value in rows:
        if month is not None:
            out[month][(metric, dept)] += int(value)
    return int(rows[0][0]), out


async def _span(session: AsyncSession, after: int, upto: int | None = None,
                ) -> tuple[datetime, datetime] | None:
    """First and last creation time of the transactions after ``after`` (the primary key's
    range only, so it costs what the delta holds, not what the ledger holds)."""
    where = [LedgerTransaction.id > after] if after else []  # none: the created_at index's ends
    if upto is not None:
        where.append(LedgerTransaction.id <= upto)
    first, last = (await session.execute(select(func.min(LedgerTransaction.created_at),
                                                func.max(LedgerTransaction.created_at))
                                         .where(*where))).one()
    return None if first is None else (first, last)


async def month_figures(session: AsyncSession, months: Iterable[str], policy: Policy, *,
                        stored: bool = True) -> dict[str, Figures]:
    """Each month's figures. ``stored=False`` sums the ledger itself (the full scan)."""
    wanted = sorted(set(months))
    watermark, out = await _stored(session, wanted, policy) if stored else (
        0, {m: Figures() for m in wanted})
    span = await _span(session, watermark)
    if span is None:
        return out
    systems = await system_ids(session)
    for month in set(_months_between(*span, policy)) & set(wanted):
        start, end = month_bounds(month, policy)
        out[month].update(await figures(session, Window(start, end, after=watermark), systems))
    return out


def total(figs: Figures, metric: str) -> int:
    return figs.get((metric, ""), 0)


def by_department(figs: Figures, metric: str) -> dict[str, int]:
    return {dept: v for (m, dept), v in figs.items() if m == metric and v}


# ---- folding -------------------------------------------------------------------------------

def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _lock_state(session: AsyncSession) -> ReportRollup | None:
    """The state row, locked; None while another replica folds (we skip, not wait)."""
    await session.execute(_insert(session)(ReportRollup).values(name=NAME, watermark=0)
                          .on_conflict_do_nothing(index_elements=["name"]))
    return await session.scalar(
        select(ReportRollup).where(ReportRollup.name == NAME)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True))


async def _pg_horizon(session: AsyncSession) -> tuple[int, int, int]:
    """(highest visible id, snapshot xmin, snapshot xmax), from one snapshot."""
    row = (await session.execute(text(
        "SELECT (SELECT coalesce(max(id), 0) FROM ledger_transactions), "
        "pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
        "FROM pg_current_snapshot() AS s"))).one()
    return int(row[0]), int(row[1]), int(row[2])


def _safe_upto(state: ReportRollup, xmin: int, now: datetime, lag: timedelta) -> int:
    """How far the fold may go: the candidate, once no transaction that was running when it
    was noted is still running, and it is at least ``lag`` old."""
    if state.pending_upto is None or state.pending_xmax is None or state.pending_at is None:
        return state.watermark
    if xmin >= state.pending_xmax and now - state.pending_at >= lag:
        return state.pending_upto
    return state.watermark


async def _add(session: AsyncSession, month: str, figs: Figures) -> None:
    rows = [{"month": month, "metric": m, "department": d, "value": v}
            for (m, d), v in sorted(figs.items()) if v]
    if not rows:
        return
    stmt = _insert(session)(ReportFigure).values(rows)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["month", "metric", "department"],
        set_={"value": ReportFigure.value + stmt.excluded.value}))


async def _fold(session: AsyncSession, policy: Policy, after: int, upto: int) -> None:
    span = await _span(session, after, upto)
    if span is None:
        return
    systems = await system_ids(session)
    for month in _months_between(*span, policy):
        start, end = month_bounds(month, policy)
        await _add(session, month, await figures(session, Window(start, end, after, upto), systems))


async def fold_batch(session: AsyncSession, policy: Policy, *, now: datetime,
                     batch: int = BATCH, lag: timedelta = LAG) -> int:
    """Fold the next batch of transaction ids; how many ids the watermark moved (0: nothing to
    do now, or another replica is at it)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        top, xmin, xmax = await _pg_horizon(session)  # before any write of ours
    state = await _lock_state(session)
    if state is None:
        return 0
    if state.timezone != policy.timezone:  # months are local: another zone means start over
        await session.execute(delete(ReportFigure))
        state.watermark, state.timezone = 0, policy.timezone
        state.pending_upto = state.pending_xmax = state.pending_at = None
    if postgres:
        safe = _safe_upto(state, xmin, now, lag)
    else:
        safe = top = int(await session.scalar(select(func.max(LedgerTransaction.id))) or 0)
    before = state.watermark
    upto = min(safe, before + batch)
    if upto > before:
        await _fold(session, policy, before, upto)
        state.watermark = upto
    if postgres and state.watermark >= (state.pending_upto or 0):  # candidate used up: next one
        fresh = top > state.watermark
        state.pending_upto = top if fresh else None
        state.pending_xmax = xmax if fresh else None
        state.pending_at = now if fresh else None
    state.updated_at = now
    await session.flush()
    return upto - before if upto > before else 0


async def advance(db: Database, policy: Policy, *, batch: int = BATCH, lag: timedelta = LAG,
                  max_batches: int | None = None, settle: bool = False) -> int:
    """Fold everything that is safe to fold now, one batch per database transaction; how many
    transaction ids were folded. ``settle`` (PostgreSQL): if a candidate watermark is waiting,
    wait ``lag`` once and fold up to it too (a one-off run then leaves no live part behind)."""
    moved = await _batches(db, policy, batch=batch, lag=lag, max_batches=max_batches)
    if settle and not db.is_sqlite and await _waiting(db):
        await asyncio.sleep(lag.total_seconds())
        moved += await _batches(db, policy, batch=batch, lag=lag, max_batches=max_batches)
    return moved


async def _batches(db: Database, policy: Policy, *, batch: int, lag: timedelta,
                   max_batches: int | None) -> int:
    moved = batches = 0
    while max_batches is None or batches < max_batches:
        step = await db.run(lambda s: fold_batch(s, policy, now=utcnow(), batch=batch, lag=lag))
        if step == 0:
            return moved
        moved += step
        batches += 1
    return moved


async def _waiting(db: Database) -> bool:
    async with db.reading() as s:
        return await s.scalar(select(ReportRollup.pending_upto)
                              .where(ReportRollup.name == NAME)) is not None
