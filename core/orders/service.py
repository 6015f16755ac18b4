"""Redeeming points in the catalog: confirm, order, fulfil, cancel (SPEC section 3).

Lock order (PostgreSQL): the redeemer's account row, then the order row, then the catalog item
row, then approval rows. Taking the account lock first also serializes one employee's actions,
so a double-clicked confirmation waits and then finds the order the first click created.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger
from core.approvals.finalizers import Outcome, register
from core.approvals.service import cancel as withdraw
from core.approvals.service import open_request
from core.audit.service import record as audit
from core.catalog.service import find_item, lock_item
from core.directory.service import get_active, roles_of
from core.models import CatalogItem, Confirmation, Employee, Order
from core.orders import flow, rules
from core.orders.views import (
    OPEN_STATES,
    ConfirmationView,
    OrderView,
    confirmation_view,
    order_view,
)
from core.policy import Policy
from core.timeutil import month_key

__all__ = [
    "ConfirmationView", "OrderView", "approval_finished", "cancel", "cancel_confirmation",
    "confirm", "fulfil", "get_order", "orders_of", "start_redemption",
]

# No 0/O, 1/I/L: people read these codes off a card and type them back.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
STAFF = frozenset({"hr", "admin"})
OPERATORS = frozenset({"cli", "api"})  # trusted operators, as in core.hr


async def start_redemption(
    session: AsyncSession, *, employee_id: str, sku: str, qty: int = 1, now: datetime,
    policy: Policy,
) -> ConfirmationView:
    """Check the redemption and open a confirmation (expires after ``confirm_minutes``).

    Refuses with UnknownItem, NotAvailable, InvalidAmount, OutOfStock, LimitReached or
    InsufficientPoints, writing nothing. Nothing is reserved until ``confirm``.
    """
    await get_active(session, employee_id)
    item = rules.check_item(await find_item(session, sku), sku.strip(), now)
    rules.check_qty(qty)
    await rules.check_stock(session, item, qty)
    await rules.check_limit(session, item=item, employee_id=employee_id, qty=qty,
                            month=month_key(now, policy))
    await rules.check_balance(session, employee_id=employee_id, need=item.points * qty, now=now)
    conf = Confirmation(code=await _fresh_code(session), employee_id=employee_id, sku=item.sku,
                        qty=qty, points=item.points * qty, status="open",
                        expires_at=now + timedelta(minutes=policy.redemption.confirm_minutes))
    session.add(conf)
    await session.flush()
    return confirmation_view(conf, item)


async def _fresh_code(session: AsyncSession) -> str:
    for attempt in range(12):
        code = "".join(secrets.choice(_ALPHABET) for _ in range(4 + attempt // 3))
        if await session.get(Confirmation, code) is None:
            return code
    raise AssertionError("no free confirmation code")


async def _own_confirmation(session: AsyncSession, employee_id: str, code: str) -> Confirmation:
    token = code.strip().upper()
    conf = await session.get(Confirmation, token, populate_existing=True) if token else None
    if conf is None or conf.employee_id != employee_id:
        raise errors.UnknownConfirmation(confirmation=token)
    return conf


async def open_confirmation(
    session: AsyncSession, *, employee_id: str, code: str, now: datetime,
) -> ConfirmationView:
    """The employee's confirmation while it can still be confirmed (the mall's confirm page);
    UnknownConfirmation or ConfirmationExpired otherwise."""
    conf = await _own_confirmation(session, employee_id, code)
    if conf.status != "open":
        raise errors.UnknownConfirmation(confirmation=conf.code)
    if now >= conf.expires_at:
        raise errors.ConfirmationExpired(confirmation=conf.code, expires_at=conf.expires_at)
    item = await session.get(CatalogItem, conf.sku)
    assert item is not None  # confirmations reference their item
    return confirmation_view(conf, item)


async def confirm(
    session: AsyncSession, *, employee_id: str, code: str, now: datetime, policy: Policy,
    answered_privately: bool = False,
) -> OrderView:
    """Turn the employee's confirmation into an order: points to escrow, stock down, one
    transaction. A used confirmation returns its order again (double click, redelivery).

    ``answered_privately``: the caller shows the resulting order to the employee alone (the reply
    in a private chat), so no push repeats it; the mall and group chats leave it False and the
    employee is told by a private push (which is also where a code item's codes go)."""
    # the account lock first: a twin (double click) that held it has committed by now, so the
    # confirmation read next is current
    await ledger.employee_account(session, employee_id, lock=True)
    conf = await _own_confirmation(session, employee_id, code)
    if conf.status == "used" and conf.order_no is not None:
        return await _view(session, conf.order_no)
    if conf.status != "open":
        raise errors.UnknownConfirmation(confirmation=conf.code)
    if now >= conf.expires_at:
        raise errors.ConfirmationExpired(confirmation=conf.code, expires_at=conf.expires_at)
    await get_active(session, employee_id)
    order, item = await _take(session, conf, now=now, policy=policy)
    if item.requires_approval:
        await _ask_approval(session, order, item, now=now, policy=policy)
    else:
        # the order was inserted just now (by _take), so its pushes are fresh
        await flow.place(session, order, item, actor=employee_id, now=now,
                         tell_redeemer=not answered_privately, fresh=True)
    return order_view(order, item)


async def _take(
    session: AsyncSession, conf: Confirmation, *, now: datetime, policy: Policy,
) -> tuple[Order, CatalogItem]:
    """Re-check under the item lock, debit to escrow, decrement stock, create the order."""
    item = rules.check_item(await lock_item(session, conf.sku), conf.sku, now)
    await rules.check_stock(session, item, conf.qty)
    month = month_key(now, policy)
    await rules.check_limit(session, item=item, employee_id=conf.employee_id, qty=conf.qty,
                            month=month)
    order_no = f"O{conf.code}"  # confirmation codes are never reused, so neither are these
    # The quoted price is charged: it is what the employee saw and confirmed.
    # new_key: the confirmation was open under the account lock, so its escrow was never posted
    await ledger.debit(session, employee_id=conf.employee_id, amount=conf.points,
                       key=flow.escrow_key(order_no), kind="redeem", actor=conf.employee_id,
                       reason=f"兑换 {item.name} × {conf.qty}", now=now, to="escrow", ref=order_no,
                       new_key=True)
    if item.stock is not None:
        if item.stock < conf.qty:
            raise errors.OutOfStock(sku=item.sku, name=item.name, available=item.stock,
                                    need=conf.qty)
        item.stock -= conf.qty
    item.sold += conf.qty
    # inserted in the status confirm() moves it to next, so that move updates nothing
    status = "pending_approval" if item.requires_approval else "placed"
    order = Order(order_no=order_no, employee_id=conf.employee_id, sku=item.sku, qty=conf.qty,
                  points=conf.points, status=status, month=month, created_at=now, updated_at=now)
    session.add(order)
    conf.status, conf.order_no = "used", order_no
    await session.flush()
    if item.kind == "code":
        await flow.reserve_codes(session, order)
    return order, item


async def _ask_approval(
    session: AsyncSession, order: Order, item: CatalogItem, *, now: datetime, policy: Policy,
) -> None:
    await flow.set_status(session, order, "pending_approval", actor=order.employee_id, note=None,
                          now=now)
    request = await open_request(
        session, kind="redemption", subject_id=order.order_no, requester_id=order.employee_id,
        amount=order.points, summary=f"{item.name} × {order.qty}",
        chain=policy.approvals.chains.redemption, now=now)
    order.approval_id = getattr(request, "id", None)
    await session.flush()


async def cancel_confirmation(
    session: AsyncSession, *, employee_id: str, code: str, now: datetime,
) -> None:
    """取消 on the confirmation card. Repeats are harmless; a confirmed one is an order already
    (BadOrderState with its number, to be cancelled as an order)."""
    conf = await _own_confirmation(session, employee_id, code)
    if conf.status == "used" and conf.order_no is not None:
        order = await get_order(session, conf.order_no)
        raise errors.BadOrderState(order_no=order.order_no, status=order.status, action="cancel")
    conf.status = "cancelled"
    await session.flush()


async def _is_staff(session: AsyncSession, actor_id: str) -> bool:
    if actor_id in OPERATORS:
        return True
    actor = await session.get(Employee, actor_id)
    return actor is not None and actor.active and bool(await roles_of(session, actor) & STAFF)


async def _lock(session: AsyncSession, order_no: str) -> Order:
    """The order, re-read under its row lock, after its redeemer's account lock."""
    found = await get_order(session, order_no)
    await ledger.employee_account(session, found.employee_id, lock=True)
    order = await session.scalar(
        select(Order).where(Order.id == found.id).with_for_update()
        .execution_options(populate_existing=True))
    assert order is not None
    return order


async def _item(session: AsyncSession, order: Order) -> CatalogItem:
    item = await session.get(CatalogItem, order.sku)
    assert item is not None
    return item


async def cancel(
    session: AsyncSession, *, actor_id: str, order_no: str, now: datetime, policy: Policy,
    note: str | None = None, answered_privately: bool = False,
) -> OrderView:
    """The redeemer (or HR / admin) cancels before fulfilment: points back, stock back.
    A cancel by anyone but the redeemer is written to the audit log. The redeemer is told by a
    push unless they cancelled it themselves and see the reply privately (as in ``confirm``)."""
    found = await get_order(session, order_no)
    if actor_id != found.employee_id and not await _is_staff(session, actor_id):
        raise errors.Forbidden(action="cancel_order", order_no=found.order_no)
    order = await _lock(session, found.order_no)
    if order.status not in OPEN_STATES:
        raise errors.BadOrderState(order_no=order.order_no, status=order.status, action="cancel")
    before = order.status
    note = note.strip() if note and note.strip() else None
    item = await flow.unwind(session, order, status="cancelled", actor=actor_id, note=note,
                             now=now, policy=policy)
    if actor_id != order.employee_id:
        await _audit(session, order, actor_id, "order.cancel", before, note, now)
    if order.approval_id is not None:
        await _close_approval(session, order.approval_id, now=now)
    if not (answered_privately and actor_id == order.employee_id):
        await flow.tell(session, order, item, "order_cancelled", now=now, by=actor_id)
    return order_view(order, item)


async def _close_approval(session: AsyncSession, approval_id: int, *, now: datetime) -> None:
    """Withdraw the order's approval request so nobody can decide it any more."""
    await withdraw(session, approval_id=approval_id, now=now)


async def fulfil(
    session: AsyncSession, *, actor_id: str, order_no: str, note: str | None, now: datetime,
    policy: Policy,
) -> OrderView:
    """HR / admin marks a placed order delivered (发货): escrow → redeemed, the redeemer is told.
    Anything but ``placed`` (a repeat included) raises BadOrderState and changes nothing."""
    if not await _is_staff(session, actor_id):
        raise errors.Forbidden(action="fulfil_order", order_no=order_no.strip())
    order = await _lock(session, order_no)
    if order.status != "placed":
        raise errors.BadOrderState(order_no=order.order_no, status=order.status, action="fulfil")
    item = await _item(session, order)
    note = note.strip() if note and note.strip() else None
    await flow.deliver(session, order, item, actor=actor_id, now=now, note=note)
    await _audit(session, order, actor_id, "order.fulfil", "placed", note, now)
    return order_view(order, item)


async def _audit(
    session: AsyncSession, order: Order, actor_id: str, action: str, before: str,
    note: str | None, now: datetime,
) -> None:
    await audit(session, actor=actor_id, action=action, subject=f"order:{order.order_no}",
                now=now, before={"status": before},
                after={"status": order.status, "note": note, "employee_id": order.employee_id,
                       "sku": order.sku, "qty": order.qty, "points": order.points})


async def approval_finished(
    session: AsyncSession, *, order_no: str, approved: bool, actor_id: str, comment: str | None,
    now: datetime, policy: Policy,
) -> None:
    """The approval chain of a ``pending_approval`` order ended (registered with core.approvals).

    Approved: placed (a code item is fulfilled at once). Rejected: points and stock restored.
    An order no longer pending (cancelled meanwhile, or a repeat call) is left alone.
    """
    order = await _lock(session, order_no)
    if order.status != "pending_approval":
        return
    if approved:
        await flow.place(session, order, await _item(session, order), actor=actor_id, now=now)
        return
    item = await flow.unwind(session, order, status="rejected", actor=actor_id, note=comment,
                             now=now, policy=policy)
    await flow.tell(session, order, item, "order_rejected", now=now, by=actor_id, comment=comment)


async def get_order(session: AsyncSession, order_no: str) -> Order:
    """The order by number (case-insensitive, the leading ``O`` optional), or UnknownOrder."""
    token = order_no.strip()
    for candidate in dict.fromkeys((token, token.upper(), f"O{token.upper()}")):
        order = await session.scalar(select(Order).where(Order.order_no == candidate))
        if order is not None:
            return order
    raise errors.UnknownOrder(order_no=token)


async def _view(session: AsyncSession, order_no: str) -> OrderView:
    order = await get_order(session, order_no)
    return order_view(order, await _item(session, order))


async def orders_of(session: AsyncSession, *, employee_id: str, limit: int = 10) -> list[OrderView]:
    """The employee's orders, newest first."""
    rows = await session.execute(
        select(Order, CatalogItem).join(CatalogItem, CatalogItem.sku == Order.sku)
        .where(Order.employee_id == employee_id)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    return [order_view(order, item) for order, item in rows.tuples()]


async def _finalize_outcome(session: AsyncSession, outcome: Outcome) -> None:
    await approval_finished(session, order_no=outcome.subject_id, approved=outcome.approved,
                            actor_id=outcome.actor_id, comment=outcome.comment, now=outcome.now,
                            policy=outcome.policy)


register("redemption", _finalize_outcome)
