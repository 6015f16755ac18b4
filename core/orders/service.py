"""Redeeming points in the catalog: confirm, order, fulfil, cancel (SPEC section 3).

Lock order (PostgreSQL): the redeemer's account row, then the order row, then the catalog item
row, then approval rows. Taking the account lock first also serializes one employee's actions,
so a double-clicked confirmation waits and then finds the order the first click created.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Integer, Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import columns, errors, ledger
from core.approvals.finalizers import Outcome, register
from core.approvals.service import cancel as withdraw
from core.approvals.service import open_request
from core.audit.service import record as audit
from core.catalog.service import find_item, lock_item
from core.directory.service import roles_of
from core.models import Account, CatalogItem, Confirmation, Employee, Lot, Order
from core.orders import flow, rules
from core.orders.views import (
    OPEN_STATES,
    ConfirmationView,
    OrderView,
    confirmation_view,
    order_view,
)
from core.policy import Policy
from core.rows import insert_new, update_loaded
from core.timeutil import month_key
from core.upsert import do_nothing

__all__ = [
    "ConfirmationView", "OrderView", "approval_finished", "cancel", "cancel_confirmation",
    "confirm", "fulfil", "get_order", "orders_of", "start_redemption",
]

# No 0/O, 1/I/L: people read these codes off a card and type them back.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
STAFF = frozenset({"hr", "admin"})
OPERATORS = frozenset({"cli", "api"})  # trusted operators, as in core.hr


# The redemption path's statements are built once, with bind parameters (see core.ledger.service).
_REDEMPTION_READS = (
    select(Employee.active, Employee.name, CatalogItem,
           ledger.spendable_points(bindparam("emp"), bindparam("now")))
    .select_from(Employee).outerjoin(CatalogItem, CatalogItem.sku == bindparam("sku"))
    .where(Employee.employee_id == bindparam("emp")))
_CONFIRMATIONS = cast(Table, Confirmation.__table__)

@dataclass(frozen=True)
class _Conf:
    """A confirmation as ``confirm`` reads it: plain values (it is changed by a plain UPDATE)."""
    code: str
    employee_id: str
    sku: str
    qty: int
    points: int
    status: str
    expires_at: datetime
    order_no: str | None


# The redeemer, the confirmation, its item, the account and its spendable lots, a row per lot:
# plain values but the redeemer (the order's pushes name them: ``flow.place``) and the item (the
# checks, the stock update and the order's views take the object). Loading five objects per
# row cost more than the statement.
_CONF = (Confirmation.code, Confirmation.employee_id, Confirmation.sku, Confirmation.qty,
         Confirmation.points, Confirmation.status, Confirmation.expires_at, Confirmation.order_no)
_CONFIRM_READS = (
    select(Employee, *_CONF, CatalogItem, Account.id, Lot.id, Lot.remaining)
    .select_from(Employee)
    .outerjoin(Confirmation, Confirmation.code == bindparam("code"))
    .outerjoin(CatalogItem, CatalogItem.sku == Confirmation.sku)
    .outerjoin(Account, Account.employee_id == Employee.employee_id)
    .outerjoin(Lot, and_(Lot.account_id == Account.id, ledger.spendable(bindparam("now"))))
    .where(Employee.employee_id == bindparam("emp"))
    .order_by(Lot.expires_at, Lot.id)
    .execution_options(populate_existing=True))
_USE_CONF = (update(_CONFIRMATIONS).where(_CONFIRMATIONS.c.code == bindparam("conf"))
             .values(status="used", order_no=bindparam("order")))


async def start_redemption(
    session: AsyncSession, *, employee_id: str, sku: str, qty: int = 1, now: datetime,
    policy: Policy,
) -> ConfirmationView:
    """Check the redemption and open a confirmation (expires after ``confirm_minutes``).

    Refuses with UnknownItem, NotAvailable, InvalidAmount, OutOfStock, LimitReached or
    InsufficientPoints, writing nothing. Nothing is reserved until ``confirm``.
    """
    (active, name), item, have = await _redemption_reads(session, employee_id, sku, now)
    if not active:
        raise errors.InactiveEmployee(who=name)
    item = rules.check_item(item, sku.strip(), now)
    rules.check_qty(qty)
    await rules.check_stock(session, item, qty)
    await rules.check_limit(session, item=item, employee_id=employee_id, qty=qty,
                            month=month_key(now, policy))
    if have < item.points * qty:
        raise errors.InsufficientPoints(balance=have, need=item.points * qty)
    return await _insert_confirmation(
        session, employee_id=employee_id, item=item, qty=qty,
        expires_at=now + timedelta(minutes=policy.redemption.confirm_minutes))


async def _redemption_reads(
    session: AsyncSession, employee_id: str, sku: str, now: datetime,
) -> tuple[tuple[bool, str], CatalogItem | None, int]:
    """Whether the redeemer is active (and their name), the item by exact SKU and the
    redeemer's spendable points in one statement (they were three; the redeemer as two plain
    values, not an ORM object: nothing else of them is needed); an SKU typed in another case is
    looked up again after."""
    token = sku.strip()
    row = (await session.execute(
        _REDEMPTION_READS, {"emp": employee_id, "sku": token, "now": now})).first()
    if row is None:
        raise errors.UnknownEmployee(who=employee_id)
    redeemer, have = (bool(row[0]), str(row[1])), row[3]
    item: CatalogItem | None = row[2]
    if item is None and token:
        item = await find_item(session, token)
    return redeemer, item, int(have or 0)


async def _insert_confirmation(
    session: AsyncSession, *, employee_id: str, item: CatalogItem, qty: int, expires_at: datetime,
) -> ConfirmationView:
    """An open confirmation under a fresh random code: ``INSERT … ON CONFLICT DO NOTHING
    RETURNING``, again under another code on a clash (one statement where a lookup of the code
    and the insert were two). A plain insert: nothing reads it back in this unit of work."""
    points = item.points * qty
    for attempt in range(12):
        code = "".join(secrets.choice(_ALPHABET) for _ in range(4 + attempt // 3))
        # cacheable ON CONFLICT (core.upsert); a clash tries another code
        insert = do_nothing(_CONFIRMATIONS, session.get_bind().dialect.name, ("code",),
                            (_CONFIRMATIONS.c.code,))
        values = {"code": code, "employee_id": employee_id, "sku": item.sku, "qty": qty,
                  "points": points, "status": "open", "expires_at": expires_at}
        if await columns.inserted(session, insert, [values]):  # a row back: the code was free
            return ConfirmationView(code=code, sku=item.sku, name=item.name, qty=qty,
                                    points=points, expires_at=expires_at, unit_points=item.points,
                                    kind=item.kind, requires_approval=item.requires_approval)
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
    # confirmation read next is current. On SQLite the write transaction holds the database's
    # lock from BEGIN IMMEDIATE on, so everything comes in one read (see _confirm_reads).
    locked_db = session.get_bind().dialect.name == "sqlite"
    if not locked_db:
        await ledger.employee_account(session, employee_id, lock=True)
    emp, conf, item, held = await _confirm_reads(session, employee_id, code, now)
    if conf.status == "used" and conf.order_no is not None:
        return await _view(session, conf.order_no)
    if conf.status != "open":
        raise errors.UnknownConfirmation(confirmation=conf.code)
    if now >= conf.expires_at:
        raise errors.ConfirmationExpired(confirmation=conf.code, expires_at=conf.expires_at)
    if not emp.active:
        raise errors.InactiveEmployee(who=emp.name)
    item = await _checked_item(session, conf, item, now, current=locked_db)
    order = await _take(session, conf, item, held, now=now, policy=policy)
    if item.requires_approval:
        await _ask_approval(session, order, item, now=now, policy=policy)
    else:
        # the order was inserted just now (by _take), so its pushes are fresh
        await flow.place(session, order, item, actor=employee_id, now=now,
                         tell_redeemer=not answered_privately, fresh=True)
    return order_view(order, item)


Held = tuple[int, list[ledger.Spendable]] | None  # the locked account's id and spendable lots


async def _confirm_reads(
    session: AsyncSession, employee_id: str, code: str, now: datetime,
) -> tuple[Employee, _Conf, CatalogItem | None, Held]:
    """The redeemer, their confirmation ``code``
    (UnknownConfirmation if it is not theirs), its item and the redeemer's account with its
    spendable lots, soonest expiry first, in one statement (one row per lot) where there were
    four. Called with the account locked (PostgreSQL) or inside SQLite's write lock, so the lots
    are current and the debit reuses them; the item is re-read under its own lock on
    PostgreSQL (``_checked_item``). No account yet: it is created (and locked), and the debit
    reads the lots itself (None)."""
    token = code.strip().upper()
    rows = (await session.execute(
        _CONFIRM_READS, {"emp": employee_id, "code": token, "now": now})).tuples().all()
    if not rows:
        raise errors.UnknownEmployee(who=employee_id)
    first = rows[0]
    if first[1] is None or first[2] != employee_id or not token:
        raise errors.UnknownConfirmation(confirmation=token)
    emp, conf, item, account_id = first[0], _Conf(*first[1:9]), first[9], first[10]
    if account_id is None:
        await ledger.employee_account(session, employee_id, lock=True)
        return emp, conf, item, None
    lots = [ledger.Spendable(row[11], row[12]) for row in rows if row[11] is not None]
    return emp, conf, item, (account_id, lots)


async def _checked_item(
    session: AsyncSession, conf: _Conf, item: CatalogItem | None, now: datetime, *,
    current: bool,
) -> CatalogItem:
    """The confirmation's item, active, in its window and in stock, as of its row lock.
    ``current``: ``item`` was read inside SQLite's write lock, so it is used as it is. Otherwise
    (PostgreSQL) the unlocked read refuses early, without queuing on the item's lock behind
    every other buyer (a flash sale), and the item is then re-read and checked under its lock."""
    if not current and item is not None and item.kind != "code":  # stock is on the row: no query
        rules.check_item(item, conf.sku, now)
        await rules.check_stock(session, item, conf.qty)
    if not current:
        item = await lock_item(session, conf.sku)
    checked = rules.check_item(item, conf.sku, now)
    await rules.check_stock(session, checked, conf.qty)
    return checked


async def _take(
    session: AsyncSession, conf: _Conf, item: CatalogItem, held: Held, *, now: datetime,
    policy: Policy,
) -> Order:
    """Debit to escrow, decrement stock, create the order (the item is checked and locked)."""
    month = month_key(now, policy)
    await rules.check_limit(session, item=item, employee_id=conf.employee_id, qty=conf.qty,
                            month=month)
    order_no = f"O{conf.code}"  # confirmation codes are never reused, so neither are these
    # The quoted price is charged: it is what the employee saw and confirmed.
    # new_key: the confirmation was open under the account lock, so its escrow was never posted
    await ledger.debit(session, employee_id=conf.employee_id, amount=conf.points,
                       key=flow.escrow_key(order_no), kind="redeem", actor=conf.employee_id,
                       reason=f"兑换 {item.name} × {conf.qty}", now=now, to="escrow", ref=order_no,
                       new_key=True, account_id=held and held[0], lots=held and held[1])
    if item.stock is not None and item.stock < conf.qty:
        raise errors.OutOfStock(sku=item.sku, name=item.name, available=item.stock, need=conf.qty)
    await update_loaded(session, [(item, {
        "stock": None if item.stock is None else item.stock - conf.qty,
        "sold": item.sold + conf.qty})])
    # inserted in the status confirm() moves it to next, so that move updates nothing
    status = "pending_approval" if item.requires_approval else "placed"
    order = await insert_new(session, Order(
        order_no=order_no, employee_id=conf.employee_id, sku=item.sku, qty=conf.qty,
        points=conf.points, status=status, month=month, code=None, note=None, approval_id=None,
        created_at=now, updated_at=now))
    await columns.execute(session, _USE_CONF, {"conf": conf.code, "order": order_no})
    if item.kind == "code":
        await flow.reserve_codes(session, order)
    return order


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


_LOCK_ORDER = (select(Order).where(Order.id == bindparam("id")).with_for_update()
               .execution_options(populate_existing=True))
_ORDER_BY_NO = select(Order).where(Order.order_no == bindparam("no"))
_ORDERS_OF = (select(Order, CatalogItem).join(CatalogItem, CatalogItem.sku == Order.sku)
              .where(Order.employee_id == bindparam("emp"))
              .order_by(Order.created_at.desc(), Order.id.desc()).limit(bindparam("limit", type_=Integer)))


async def _lock(session: AsyncSession, order_no: str) -> Order:
    """The order, re-read under its row lock, after its redeemer's account lock."""
    found = await get_order(session, order_no)
    await ledger.employee_account(session, found.employee_id, lock=True)
    order = await session.scalar(_LOCK_ORDER, {"id": found.id})
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
        order = await session.scalar(_ORDER_BY_NO, {"no": candidate})
        if order is not None:
            return order
    raise errors.UnknownOrder(order_no=token)


async def _view(session: AsyncSession, order_no: str) -> OrderView:
    order = await get_order(session, order_no)
    return order_view(order, await _item(session, order))


async def orders_of(session: AsyncSession, *, employee_id: str, limit: int = 10) -> list[OrderView]:
    """The employee's orders, newest first."""
    rows = await session.execute(_ORDERS_OF, {"emp": employee_id, "limit": limit})
    return [order_view(order, item) for order, item in rows.tuples()]


async def _finalize_outcome(session: AsyncSession, outcome: Outcome) -> None:
    await approval_finished(session, order_no=outcome.subject_id, approved=outcome.approved,
                            actor_id=outcome.actor_id, comment=outcome.comment, now=outcome.now,
                            policy=outcome.policy)


register("redemption", _finalize_outcome)
