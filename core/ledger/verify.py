"""The invariants of SPEC section 8, checked against the database (``jifen ledger verify``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Account, CatalogItem, Entry, LedgerTransaction, Lot, Order

OPEN_ORDER_STATES = ("pending_approval", "placed")
CLOSED_ORDER_STATES = ("cancelled", "rejected")


async def _sums(session: AsyncSession, stmt: Select[Any]) -> dict[Any, int]:
    return {key: int(total or 0) for key, total in (await session.execute(stmt)).all()}


async def _unbalanced(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(Entry.transaction_id, func.sum(Entry.amount), func.count())
        .group_by(Entry.transaction_id)
        .having((func.sum(Entry.amount) != 0) | (func.count() < 2))
    )
    problems = [f"transaction {tid} sums to {total} over {n} entries" for tid, total, n in rows]
    empty = await session.scalars(
        select(LedgerTransaction.id).where(
            ~select(Entry.id).where(Entry.transaction_id == LedgerTransaction.id).exists()
        )
    )
    problems += [f"transaction {tid} has no entries" for tid in empty]
    return problems


async def _employee_balances(session: AsyncSession) -> list[str]:
    entry_sums = await _sums(
        session, select(Entry.account_id, func.sum(Entry.amount)).group_by(Entry.account_id))
    lot_sums = await _sums(
        session, select(Lot.account_id, func.sum(Lot.remaining)).group_by(Lot.account_id))
    problems = []
    for acc in await session.scalars(select(Account).where(Account.kind == "employee")):
        entries = entry_sums.get(acc.id, 0)
        lots = lot_sums.get(acc.id, 0)
        if not acc.balance == entries == lots:
            problems.append(
                f"{acc.code}: cached {acc.balance}, entries {entries}, open lots {lots} disagree"
            )
        if entries < 0:
            problems.append(f"{acc.code}: negative balance {entries}")
    return problems


async def _lots(session: AsyncSession) -> list[str]:
    per_lot = (
        select(Entry.lot_id, func.sum(Entry.amount).label("net"))
        .where(Entry.lot_id.is_not(None)).group_by(Entry.lot_id).subquery()
    )
    rows = await session.execute(
        select(Lot.id, Lot.remaining, per_lot.c.net)
        .outerjoin(per_lot, per_lot.c.lot_id == Lot.id)
        .where(func.coalesce(per_lot.c.net, 0) != Lot.remaining)
    )
    return [f"lot {lid}: remaining {rem} but entries net {net}" for lid, rem, net in rows]


async def _escrow(session: AsyncSession) -> list[str]:
    escrow = await session.scalar(
        select(func.coalesce(func.sum(Entry.amount), 0))
        .join(Account, Account.id == Entry.account_id).where(Account.code == "system:escrow")
    )
    open_points = await session.scalar(
        select(func.coalesce(func.sum(Order.points), 0)).where(Order.status.in_(OPEN_ORDER_STATES))
    )
    if int(escrow or 0) != int(open_points or 0):
        return [f"escrow holds {escrow} but open orders total {open_points}"]
    return []


async def _stock(session: AsyncSession) -> list[str]:
    sold_by_orders = await _sums(
        session, select(Order.sku, func.sum(Order.qty))
        .where(Order.status.not_in(CLOSED_ORDER_STATES)).group_by(Order.sku))
    problems = []
    for item in await session.scalars(select(CatalogItem)):
        if item.stock is not None and item.stock + item.sold != item.stock_added:
            problems.append(f"item {item.sku}: stock {item.stock} + sold {item.sold} "
                            f"!= stocked {item.stock_added}")
        if item.stock is not None and item.stock < 0:
            problems.append(f"item {item.sku}: negative stock {item.stock}")
        if item.sold != sold_by_orders.get(item.sku, 0):
            problems.append(f"item {item.sku}: sold {item.sold} but live orders hold "
                            f"{sold_by_orders.get(item.sku, 0)}")
    return problems


async def _keys(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(LedgerTransaction.idempotency_key, func.count())
        .group_by(LedgerTransaction.idempotency_key).having(func.count() > 1)
    )
    return [f"idempotency key {key!r} used {n} times" for key, n in rows]


async def verify(session: AsyncSession) -> list[str]:
    """Every violated invariant as one line; an empty list means the books are consistent."""
    problems: list[str] = []
    for check in (_unbalanced, _employee_balances, _lots, _escrow, _stock, _keys):
        problems += await check(session)
    return problems
