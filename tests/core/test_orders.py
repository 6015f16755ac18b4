"""Worked examples for redemption, orders, fulfilment and cancellation (SPEC section 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.catalog_file import parse_catalog
from core import errors, ledger
from core.approvals import service as approvals
from core.catalog.importer import import_items
from core.db import Database
from core.ledger.verify import verify
from core.models import (
    CatalogItem,
    CodeEntry,
    Confirmation,
    Entry,
    Lot,
    Order,
    OrderEvent,
    OutboxMessage,
)
from core.orders import service as orders
from core.orders.views import OrderView
from core.policy import Policy
from tests.factories import add_employee

CATALOG = """\
items:
  - {sku: CUP01, name: 定制马克杯, points: 80, category: 周边, stock: 3, kind: physical}
  - {sku: BAG01, name: 帆布包, points: 120, category: 周边, kind: physical, limit_per_employee: 2}
  - {sku: MASSAGE, name: 午间按摩, points: 150, category: 服务, kind: service}
  - {sku: COFFEE, name: 咖啡券, points: 30, category: 卡券, kind: code, codes: [CF-1, CF-2, CF-3]}
  - {sku: LEAVE1, name: 调休半天, points: 300, category: 假期, kind: leave, requires_approval: true,
     stock: 2}
  - {sku: GIFT, name: 礼品卡, points: 100, category: 卡券, kind: code, requires_approval: true,
     codes: [G-1]}
  - {sku: XMAS, name: 圣诞礼盒, points: 50, available_from: 2026-12-20, available_until: 2026-12-25}
  - {sku: OLD1, name: 旧款, points: 10, active: false}
"""


async def _setup(db: Database, policy: Policy, now: datetime, *, points: int = 1000) -> None:
    async with db.uow() as s:
        await add_employee(s, "M1", "王经理")
        await add_employee(s, "E1", "张三", manager_id="M1")
        await add_employee(s, "E2", "李四", manager_id="M1")
        await add_employee(s, "H1", "林芳", roles="hr")
        await add_employee(s, "H2", "前HR", roles="hr", active=False)
        await import_items(s, items=parse_catalog(CATALOG, fmt="yaml"), now=now, policy=policy)
        for emp in ("E1", "E2") if points else ():
            await ledger.credit(s, employee_id=emp, amount=points, key=f"g:{emp}", kind="grant",
                                actor="H1", reason="r", now=now, policy=policy)


async def _redeem(
    db: Database, policy: Policy, now: datetime, sku: str, *, qty: int = 1, who: str = "E1",
) -> OrderView:
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id=who, sku=sku, qty=qty, now=now,
                                             policy=policy)
    async with db.uow() as s:
        return await orders.confirm(s, employee_id=who, code=view.code, now=now, policy=policy)


async def _balance(s: AsyncSession, who: str, now: datetime) -> int:
    return (await ledger.balance(s, employee_id=who, now=now)).balance


async def _pushes(s: AsyncSession, kind: str) -> list[tuple[str, dict[str, object]]]:
    rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                           .order_by(OutboxMessage.id))
    return [(m.recipient, json.loads(m.payload)) for m in rows]


async def _held(s: AsyncSession, system: str) -> int:
    acc = await ledger.system_account(s, system)
    return int(await s.scalar(select(func.coalesce(func.sum(Entry.amount), 0))
                              .where(Entry.account_id == acc.id)) or 0)


async def _count(s: AsyncSession, model: type) -> int:
    return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_redeem_confirm_places_order(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id="E1", sku="cup01", qty=2, now=now,
                                             policy=policy)
    assert (view.sku, view.name, view.qty, view.points) == ("CUP01", "定制马克杯", 2, 160)
    assert view.expires_at == now + timedelta(minutes=10)
    # four characters that cannot be misread (no 0/O, 1/I/L); all digits is a valid code too
    assert len(view.code) == 4 and set(view.code) <= set("ABCDEFGHJKMNPQRSTUVWXYZ23456789")
    async with db.uow() as s:
        assert await _balance(s, "E1", now) == 1000  # nothing moves before 确认
        order = await orders.confirm(s, employee_id="E1", code=view.code.lower(), now=now,
                                     policy=policy)
    assert (order.status, order.qty, order.points, order.order_no) == ("placed", 2, 160, f"O{view.code}")
    async with db.uow() as s:
        assert await _balance(s, "E1", now) == 840
        cup = await s.get(CatalogItem, "CUP01")
        assert cup is not None and (cup.stock, cup.sold, cup.stock_added) == (1, 2, 3)
        saved = await orders.get_order(s, order.order_no.lower())
        assert saved.month == "2026-03"
        events = list(await s.scalars(select(OrderEvent.status).where(OrderEvent.order_no == order.order_no)))
        assert events == ["placed"]
        assert [r for r, _ in await _pushes(s, "order_placed")] == ["employee:E1"]
        hr = await _pushes(s, "new_physical_order")
        assert [r for r, _ in hr] == ["employee:H1"]  # the inactive HR is not told
        assert hr[0][1]["order_no"] == order.order_no and hr[0][1]["qty"] == 2
        assert await verify(s) == []


async def test_confirm_twice_gives_one_order(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id="E1", sku="CUP01", now=now, policy=policy)
    results = []
    for _ in range(2):
        async with db.uow() as s:
            results.append(await orders.confirm(s, employee_id="E1", code=view.code, now=now,
                                                policy=policy))
    assert results[0] == results[1]
    async with db.uow() as s:
        assert await _count(s, Order) == 1
        assert await _balance(s, "E1", now) == 920
        assert len(await _pushes(s, "order_placed")) == 1
        assert await verify(s) == []


async def test_confirmation_rules(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id="E1", sku="CUP01", now=now, policy=policy)
    with pytest.raises(errors.UnknownConfirmation):  # only its owner may confirm it
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E2", code=view.code, now=now, policy=policy)
    with pytest.raises(errors.ConfirmationExpired):
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E1", code=view.code, now=view.expires_at,
                                 policy=policy)
    async with db.uow() as s:
        await orders.cancel_confirmation(s, employee_id="E1", code=view.code, now=now)
    with pytest.raises(errors.UnknownConfirmation):
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E1", code=view.code, now=now, policy=policy)
    done = await _redeem(db, policy, now, "CUP01")
    with pytest.raises(errors.BadOrderState) as exc:  # 取消 after 确认: it is an order now
        async with db.uow() as s:
            await orders.cancel_confirmation(s, employee_id="E1", code=done.order_no[1:], now=now)
    assert exc.value.params == {"order_no": done.order_no, "status": "placed", "action": "cancel"}
    async with db.uow() as s:
        assert await _count(s, Order) == 1
        assert await _balance(s, "E1", now) == 920
        assert await verify(s) == []


@pytest.mark.parametrize(("sku", "qty", "error", "params"), [
    ("NOPE", 1, errors.UnknownItem, {"sku": "NOPE"}),
    ("OLD1", 1, errors.UnknownItem, {"sku": "OLD1"}),
    ("XMAS", 1, errors.NotAvailable, None),
    ("CUP01", 0, errors.InvalidQuantity, {"qty": 0, "max": 20}),
    ("MASSAGE", 21, errors.InvalidQuantity, {"qty": 21, "max": 20}),
    ("CUP01", 4, errors.OutOfStock, {"sku": "CUP01", "name": "定制马克杯", "available": 3, "need": 4}),
    ("COFFEE", 4, errors.OutOfStock, {"sku": "COFFEE", "name": "咖啡券", "available": 3, "need": 4}),
    ("BAG01", 3, errors.LimitReached, {"limit": 2, "used": 0, "sku": "BAG01", "name": "帆布包"}),
    ("MASSAGE", 7, errors.InsufficientPoints, {"balance": 1000, "need": 1050}),
])
async def test_start_refusals_write_nothing(
    db: Database, policy: Policy, now: datetime, sku: str, qty: int, error: type[Exception],
    params: dict[str, object] | None,
) -> None:
    await _setup(db, policy, now)
    with pytest.raises(error) as exc:
        async with db.uow() as s:
            await orders.start_redemption(s, employee_id="E1", sku=sku, qty=qty, now=now, policy=policy)
    if params is not None:
        assert exc.value.params == params  # type: ignore[attr-defined]
    async with db.uow() as s:
        assert await _count(s, Confirmation) == 0


async def test_out_of_stock_at_confirm_changes_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    async with db.uow() as s:
        first = await orders.start_redemption(s, employee_id="E1", sku="CUP01", qty=2, now=now, policy=policy)
        second = await orders.start_redemption(s, employee_id="E2", sku="CUP01", qty=2, now=now, policy=policy)
    async with db.uow() as s:
        await orders.confirm(s, employee_id="E1", code=first.code, now=now, policy=policy)
    with pytest.raises(errors.OutOfStock) as exc:
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E2", code=second.code, now=now, policy=policy)
    assert exc.value.params["available"] == 1
    async with db.uow() as s:
        assert await _balance(s, "E2", now) == 1000
        assert await _count(s, Order) == 1
        assert (await s.get(Confirmation, second.code)).status == "open"  # type: ignore[union-attr]
        assert await verify(s) == []


async def test_insufficient_balance_at_confirm_changes_nothing(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now, points=200)
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id="E1", sku="BAG01", now=now, policy=policy)
        await ledger.debit(s, employee_id="E1", amount=150, key="d", kind="deduct", actor="H1",
                           reason="扣分", now=now, to="adjustment")
    with pytest.raises(errors.InsufficientPoints) as exc:
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E1", code=view.code, now=now, policy=policy)
    assert exc.value.params == {"balance": 50, "need": 120}
    async with db.uow() as s:
        bag = await s.get(CatalogItem, "BAG01")
        assert bag is not None and bag.sold == 0 and await _count(s, Order) == 0
        assert await verify(s) == []


async def test_monthly_limit_counts_live_orders_of_the_local_month(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now)
    first = await _redeem(db, policy, now, "BAG01")
    await _redeem(db, policy, now, "BAG01")
    with pytest.raises(errors.LimitReached) as exc:
        async with db.uow() as s:
            await orders.start_redemption(s, employee_id="E1", sku="BAG01", now=now, policy=policy)
    assert exc.value.params["used"] == 2
    async with db.uow() as s:  # a cancelled order no longer counts
        await orders.cancel(s, actor_id="E1", order_no=first.order_no, now=now, policy=policy)
    await _redeem(db, policy, now, "BAG01")
    # 1 April 00:30 in Shanghai is still 31 March in UTC, but it is a new local month.
    april = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    assert (await _redeem(db, policy, april, "BAG01", qty=2)).status == "placed"
    async with db.uow() as s:
        assert await verify(s) == []


async def test_window_is_rechecked_at_confirm(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    christmas = datetime(2026, 12, 25, 15, 55, tzinfo=UTC)  # 23:55 on the last day
    async with db.uow() as s:
        view = await orders.start_redemption(s, employee_id="E1", sku="XMAS", now=christmas, policy=policy)
    with pytest.raises(errors.NotAvailable):
        async with db.uow() as s:
            await orders.confirm(s, employee_id="E1", code=view.code,
                                 now=christmas + timedelta(minutes=6), policy=policy)
    async with db.uow() as s:
        assert await _count(s, Order) == 0


async def test_code_item_is_fulfilled_at_once_and_codes_never_repeat(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now)
    one = await _redeem(db, policy, now, "COFFEE")
    two = await _redeem(db, policy, now, "COFFEE", qty=2, who="E2")
    assert (one.status, len(one.codes), two.status, len(two.codes)) == ("fulfilled", 1, "fulfilled", 2)
    assert len(set(one.codes) | set(two.codes)) == 3
    with pytest.raises(errors.OutOfStock):
        async with db.uow() as s:
            await orders.start_redemption(s, employee_id="E1", sku="COFFEE", now=now, policy=policy)
    async with db.uow() as s:
        fulfilled = await _pushes(s, "order_fulfilled")
        assert [(r, p["codes"]) for r, p in fulfilled] == [("employee:E1", one.codes),
                                                          ("employee:E2", two.codes)]
        coffee = await s.get(CatalogItem, "COFFEE")
        assert coffee is not None and (coffee.stock, coffee.sold) == (0, 3)
        assert await _balance(s, "E1", now) == 970
        mine = await orders.orders_of(s, employee_id="E1")
        assert mine[0].codes == one.codes
        assert await verify(s) == []


async def test_cancel_refunds_and_restocks(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "CUP01", qty=2)
    with pytest.raises(errors.Forbidden):
        async with db.uow() as s:
            await orders.cancel(s, actor_id="E2", order_no=order.order_no, now=now, policy=policy)
    async with db.uow() as s:
        cancelled = await orders.cancel(s, actor_id="E1", order_no=order.order_no, now=now,
                                        policy=policy)
    assert cancelled.status == "cancelled"
    with pytest.raises(errors.BadOrderState) as exc:
        async with db.uow() as s:
            await orders.cancel(s, actor_id="E1", order_no=order.order_no, now=now, policy=policy)
    assert exc.value.params["status"] == "cancelled"
    async with db.uow() as s:
        assert await _balance(s, "E1", now) == 1000
        cup = await s.get(CatalogItem, "CUP01")
        assert cup is not None and (cup.stock, cup.sold, cup.stock_added) == (3, 0, 3)
        assert [r for r, _ in await _pushes(s, "order_cancelled")] == ["employee:E1"]
        events = list(await s.scalars(select(OrderEvent.status).where(OrderEvent.order_no == order.order_no)
                                      .order_by(OrderEvent.id)))
        assert events == ["placed", "cancelled"]
        assert await verify(s) == []


async def test_hr_cancels_and_refund_into_expired_lot_becomes_new_lot(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now, points=0)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=200, key="short", kind="grant", actor="H1",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=3))
    order = await _redeem(db, policy, now, "MASSAGE")
    later = now + timedelta(days=5)  # the lot the points came from has expired meanwhile
    async with db.uow() as s:
        await orders.cancel(s, actor_id="H1", order_no=order.order_no, now=later, policy=policy)
    async with db.uow() as s:
        refunded = await s.scalar(select(Lot).where(Lot.amount == 150))
        assert refunded is not None and refunded.expires_at == later + timedelta(days=30)
        assert await _balance(s, "E1", later) == 150
        assert await verify(s) == []


async def test_fulfil_by_hr_only_once(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "CUP01")
    with pytest.raises(errors.Forbidden):
        async with db.uow() as s:
            await orders.fulfil(s, actor_id="E1", order_no=order.order_no, note=None, now=now,
                                policy=policy)
    async with db.uow() as s:
        done = await orders.fulfil(s, actor_id="H1", order_no=order.order_no, note="顺丰 SF123",
                                   now=now, policy=policy)
    assert (done.status, done.note) == ("fulfilled", "顺丰 SF123")
    with pytest.raises(errors.BadOrderState) as exc:
        async with db.uow() as s:
            await orders.fulfil(s, actor_id="H1", order_no=order.order_no, note="again", now=now,
                                policy=policy)
    assert exc.value.params == {"order_no": order.order_no, "status": "fulfilled", "action": "fulfil"}
    with pytest.raises(errors.BadOrderState):  # too late to cancel
        async with db.uow() as s:
            await orders.cancel(s, actor_id="E1", order_no=order.order_no, now=now, policy=policy)
    async with db.uow() as s:
        pushed = await _pushes(s, "order_fulfilled")
        assert [(r, p["note"]) for r, p in pushed] == [("employee:E1", "顺丰 SF123")]
        assert (await orders.get_order(s, order.order_no)).note == "顺丰 SF123"
        assert (await _held(s, "escrow"), await _held(s, "redeemed")) == (0, 80)
        assert await _balance(s, "E1", now) == 920
        assert await verify(s) == []


async def test_orders_of_and_get_order(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    first = await _redeem(db, policy, now, "CUP01")
    second = await _redeem(db, policy, now + timedelta(minutes=1), "MASSAGE")
    async with db.uow() as s:
        assert [o.order_no for o in await orders.orders_of(s, employee_id="E1")] == [
            second.order_no, first.order_no]
        assert await orders.orders_of(s, employee_id="E2") == []
        assert (await orders.get_order(s, first.order_no[1:].lower())).order_no == first.order_no
        with pytest.raises(errors.UnknownOrder):
            await orders.get_order(s, "O0000")


async def test_requires_approval_then_approve_places(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "LEAVE1")
    assert order.status == "pending_approval" and order.approval_id is not None
    async with db.uow() as s:
        assert await _balance(s, "E1", now) == 700
        assert await _held(s, "escrow") == 300  # held while the manager decides
        assert await verify(s) == []
        await approvals.decide(s, approval_id=_approval_of(order), actor_id="M1", approve=True,
                               comment=None, now=now, policy=policy)
    async with db.uow() as s:
        placed = await orders.get_order(s, order.order_no)
        assert placed.status == "placed"
        assert [r for r, _ in await _pushes(s, "order_placed")] == ["employee:E1"]
        told = await _pushes(s, "new_physical_order")  # HR hears of every order but a code's
        assert [who for who, _ in told] == ["employee:H1"] and told[0][1]["sku"] == "LEAVE1"
        assert await verify(s) == []


async def test_requires_approval_then_reject_refunds(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "LEAVE1")
    async with db.uow() as s:
        await approvals.decide(s, approval_id=_approval_of(order), actor_id="M1", approve=False,
                               comment="项目冲刺期", now=now, policy=policy)
    async with db.uow() as s:
        assert (await orders.get_order(s, order.order_no)).status == "rejected"
        assert await _balance(s, "E1", now) == 1000
        leave = await s.get(CatalogItem, "LEAVE1")
        assert leave is not None and (leave.stock, leave.sold) == (2, 0)
        rejected = await _pushes(s, "order_rejected")
        assert [(r, p["comment"]) for r, p in rejected] == [("employee:E1", "项目冲刺期")]
        assert await verify(s) == []


async def test_cancel_pending_order_withdraws_its_approval(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "LEAVE1")
    async with db.uow() as s:
        await orders.cancel(s, actor_id="E1", order_no=order.order_no, now=now, policy=policy)
    with pytest.raises(errors.AlreadyDecided):
        async with db.uow() as s:
            await approvals.decide(s, approval_id=_approval_of(order), actor_id="M1", approve=True,
                                   comment=None, now=now, policy=policy)
    async with db.uow() as s:
        assert (await approvals.get_request(s, _approval_of(order))).status == "cancelled"
        assert await _balance(s, "E1", now) == 1000
        assert await verify(s) == []


async def test_code_item_with_approval_reserves_code_until_decided(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now)
    first = await _redeem(db, policy, now, "GIFT")
    assert (first.status, first.codes) == ("pending_approval", [])  # the code stays hidden
    with pytest.raises(errors.OutOfStock):  # its only code is reserved
        async with db.uow() as s:
            await orders.start_redemption(s, employee_id="E2", sku="GIFT", now=now, policy=policy)
    async with db.uow() as s:
        await approvals.decide(s, approval_id=_approval_of(first), actor_id="M1", approve=False,
                               comment=None, now=now, policy=policy)
    second = await _redeem(db, policy, now, "GIFT", who="E2")
    async with db.uow() as s:
        await approvals.decide(s, approval_id=_approval_of(second), actor_id="M1", approve=True,
                               comment=None, now=now, policy=policy)
    async with db.uow() as s:
        done = (await orders.orders_of(s, employee_id="E2"))[0]
        assert (done.status, done.codes) == ("fulfilled", ["G-1"])
        code = await s.scalar(select(CodeEntry).where(CodeEntry.code == "G-1"))
        assert code is not None and code.order_no == second.order_no
        assert await verify(s) == []


async def test_approval_finished_ignores_orders_no_longer_pending(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db, policy, now)
    order = await _redeem(db, policy, now, "CUP01")
    async with db.uow() as s:
        await orders.approval_finished(s, order_no=order.order_no, approved=False, actor_id="M1",
                                       comment=None, now=now, policy=policy)
    async with db.uow() as s:
        assert (await orders.get_order(s, order.order_no)).status == "placed"
        assert await verify(s) == []


def _approval_of(order: OrderView) -> int:
    assert order.approval_id is not None, "the order waits for no approval"
    return order.approval_id
