"""Order state changes. Each one writes an OrderEvent; money moves only through core.ledger.

States: pending_approval → placed → fulfilled, or cancelled / rejected from the first two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from core import columns, errors, ledger, outbox
from core.catalog.service import lock_item
from core.directory.service import mask_email, mask_mobile
from core.models import CatalogItem, CodeEntry, Employee, Order, OrderEvent
from core.orders.rules import active_hr
from core.orders.views import payload
from core.policy import Policy
from core.rows import table_of


def escrow_key(order_no: str) -> str:
    return f"order:{order_no}:escrow"


async def set_status(
    session: AsyncSession, order: Order, status: str, *, actor: str, note: str | None,
    now: datetime,
) -> None:
    # assigned only when they change: an order is inserted in the state and at the time it
    # moves to (``service._take``), and then its row needs no update and no flush
    if order.status != status or order.updated_at != now:
        order.status, order.updated_at = status, now
        await session.flush()  # the order's row first: its event refers to it
    # a plain insert: nothing reads the event back in this unit of work
    await columns.execute(session, _INSERT_EVENT, {
        "order_no": order.order_no, "status": status, "actor": actor,
        "note": None if note is None else note[:500], "created_at": now})


_INSERT_EVENT = insert(table_of(OrderEvent))


async def tell(
    session: AsyncSession, order: Order, item: CatalogItem, kind: str, *, now: datetime,
    to: str | None = None, fresh: bool = False, **extra: Any,
) -> None:
    """Push ``kind`` about the order (to the redeemer unless ``to``), at most once per recipient.
    ``fresh``: the order was created in this transaction, so nothing about it was pushed yet."""
    who = to or order.employee_id
    await outbox.push(session, employee_id=who, kind=kind, payload=payload(order, item, **extra),
                      now=now, dedupe_key=f"order:{order.order_no}:{kind}:{who}", fresh=fresh)


async def reserve_codes(session: AsyncSession, order: Order) -> None:
    """Set aside ``qty`` free codes for the order (the item row is locked by the caller).

    SKIP LOCKED plus the ``order_no IS NULL`` condition on the UPDATE make sure two orders never
    hold the same code even if a caller forgot the item lock.
    """
    ids = list(await session.scalars(
        select(CodeEntry.id).where(CodeEntry.sku == order.sku, CodeEntry.order_no.is_(None))
        .order_by(CodeEntry.id).limit(order.qty).with_for_update(skip_locked=True)))
    if len(ids) < order.qty:
        raise errors.CodesExhausted(sku=order.sku, available=len(ids), need=order.qty)
    taken = cast(CursorResult[Any], await session.execute(
        update(CodeEntry).where(CodeEntry.id.in_(ids), CodeEntry.order_no.is_(None))
        .values(order_no=order.order_no).execution_options(synchronize_session=False)))
    if taken.rowcount != len(ids):
        raise errors.CodesExhausted(sku=order.sku, available=0, need=order.qty)


async def reserved_codes(session: AsyncSession, order_no: str) -> list[str]:
    return list(await session.scalars(
        select(CodeEntry.code).where(CodeEntry.order_no == order_no).order_by(CodeEntry.id)))


async def place(
    session: AsyncSession, order: Order, item: CatalogItem, *, actor: str, now: datetime,
    tell_redeemer: bool = True, fresh: bool = False,
) -> None:
    """``placed``: the redeemer is told (unless ``tell_redeemer`` is False: they confirmed in a
    private chat, whose reply already shows the order), and HR hears about every order a person
    must handle (any kind but ``code``: a service or a day off needs someone as much as a parcel
    does), with who ordered it. ``fresh``: the order is new in this transaction (as in ``tell``)."""
    await set_status(session, order, "placed", actor=actor, note=None, now=now)
    if item.kind == "code":
        await deliver(session, order, item, actor=actor, now=now, tell_redeemer=tell_redeemer)
        return
    if tell_redeemer:
        await tell(session, order, item, "order_placed", now=now, fresh=fresh)
    who = await _ordered_by(session, order.employee_id)
    for hr in await active_hr(session):
        await tell(session, order, item, "new_physical_order", now=now, to=hr, ordered_by=who,
                   fresh=fresh)


async def _ordered_by(session: AsyncSession, employee_id: str) -> str:
    """``刘洋（研发部）138****0006``: name, department and the contact masked as elsewhere."""
    emp = await session.get(Employee, employee_id)
    if emp is None:
        return employee_id
    contact = mask_mobile(emp.mobile) or mask_email(emp.email)
    return f"{emp.name}（{emp.department}）{contact}".strip()


async def deliver(
    session: AsyncSession, order: Order, item: CatalogItem, *, actor: str, now: datetime,
    note: str | None = None, tell_redeemer: bool = True,
) -> None:
    """Fulfil: the escrow becomes redeemed; a code item hands its reserved codes over privately."""
    await ledger.transfer(session, source="escrow", to="redeemed", amount=order.points,
                          key=f"order:{order.order_no}:fulfil", kind="fulfil", actor=actor,
                          reason=f"{item.name} × {order.qty}", now=now, ref=order.order_no)
    extra: dict[str, Any] = {}
    if item.kind == "code":
        codes = await reserved_codes(session, order.order_no)
        order.code = "\n".join(codes)
        extra["codes"] = codes
    if note is not None:
        order.note = note[:500]
        extra["note"] = order.note
    await set_status(session, order, "fulfilled", actor=actor, note=note, now=now)
    if tell_redeemer:
        await tell(session, order, item, "order_fulfilled", now=now, **extra)


async def unwind(
    session: AsyncSession, order: Order, *, status: str, actor: str, note: str | None,
    now: datetime, policy: Policy,
) -> CatalogItem:
    """Refund the escrow to the redeemer's lots, put the units (and codes) back, set ``status``.

    The caller holds the redeemer's account lock; the item row is locked after it.
    """
    await ledger.refund(session, original_key=escrow_key(order.order_no),
                        key=f"order:{order.order_no}:refund", actor=actor,
                        reason=f"订单 {order.order_no} {status}", now=now, policy=policy)
    item = await lock_item(session, order.sku)
    assert item is not None  # orders reference their item
    if item.stock is not None:
        item.stock += order.qty
    item.sold -= order.qty
    await session.execute(
        update(CodeEntry).where(CodeEntry.order_no == order.order_no).values(order_no=None)
        .execution_options(synchronize_session=False))
    await set_status(session, order, status, actor=actor, note=note, now=now)
    return item
