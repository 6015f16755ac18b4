"""Worked examples for the ledger (SPEC section 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger
from core.db import Database
from core.ledger.service import find_transaction
from core.ledger.verify import verify
from core.models import LedgerTransaction, Lot
from core.policy import Policy
from tests.factories import add_employee


async def _setup(db: Database) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1", "张三")
        await add_employee(s, "E2", "李四")


async def test_credit_then_balance_and_expiry(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=100, key="g1", kind="grant", actor="HR",
                            reason="季度奖励", now=now, policy=policy)
    async with db.uow() as s:
        bal = await ledger.balance(s, employee_id="E1", now=now)
        assert bal.balance == 100
        # granted 2026-03-15 (Shanghai) → expires after 2027-03-31 local = 2027-03-31T16:00Z
        assert bal.next_expiry_at == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)
        assert await verify(s) == []


async def test_repeated_key_changes_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    for _ in range(3):
        async with db.uow() as s:
            tx = await ledger.credit(s, employee_id="E1", amount=30, key="same", kind="grant",
                                     actor="HR", reason="补发", now=now, policy=policy)
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E1", now=now)).balance == 30
        assert await s.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
        assert tx.idempotency_key == "same"


async def test_spend_consumes_soonest_expiring_first(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=50, key="late", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=300))
        await ledger.credit(s, employee_id="E1", amount=20, key="soon", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=10))
        await ledger.debit(s, employee_id="E1", amount=30, key="spend", kind="deduct", actor="E1", to="adjustment",
                           reason="兑换", now=now)
    async with db.uow() as s:
        lots = {lot.amount: lot.remaining for lot in await s.scalars(select(Lot))}
        assert lots == {20: 0, 50: 40}
        assert (await ledger.balance(s, employee_id="E1", now=now)).balance == 40
        assert await verify(s) == []


async def test_insufficient_points_changes_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=10, key="g", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy)
    with pytest.raises(errors.InsufficientPoints) as exc:
        async with db.uow() as s:
            await ledger.debit(s, employee_id="E1", amount=11, key="d", kind="deduct", actor="E1", to="adjustment",
                               reason="r", now=now)
    assert exc.value.params == {"balance": 10, "need": 11}
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E1", now=now)).balance == 10
        assert await s.scalar(select(func.count()).select_from(LedgerTransaction)) == 1


async def test_refund_returns_to_lots_and_expired_lot_becomes_new_lot(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=20, key="soon", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=5))
        await ledger.credit(s, employee_id="E1", amount=50, key="late", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=300))
        await ledger.debit(s, employee_id="E1", amount=30, key="spend", kind="deduct", actor="E1", to="adjustment",
                           reason="r", now=now)
    later = now + timedelta(days=6)  # the 20-point lot has expired meanwhile
    async with db.uow() as s:
        tx = await ledger.refund(s, original_key="spend", key="refund", actor="E1", reason="取消",
                                 now=later, policy=policy, source="adjustment")
        assert tx is not None
    async with db.uow() as s:
        lots = sorted((lot.amount, lot.remaining, lot.expires_at) for lot in await s.scalars(select(Lot)))
        assert (20, 0, now + timedelta(days=5)) in lots  # old lot untouched
        assert (20, 20, later + timedelta(days=30)) in lots  # refunded as a new 30-day lot
        assert (50, 50, now + timedelta(days=300)) in lots  # back to where it came from
        assert (await ledger.balance(s, employee_id="E1", now=later)).balance == 70
        assert await verify(s) == []


async def test_expire_due_moves_remainder_once(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=40, key="g", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy, expires_at=now + timedelta(days=1))
        await ledger.debit(s, employee_id="E1", amount=15, key="d", kind="deduct", actor="E1", to="adjustment",
                           reason="r", now=now)
    later = now + timedelta(days=2)
    for _ in range(2):
        async with db.uow() as s:
            expired = await ledger.expire_due(s, now=later)
    assert expired == 0  # the second sweep finds nothing
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E1", now=later)).balance == 0
        hist = await ledger.history(s, employee_id="E1")
        assert [h.amount for h in hist] == [-25, -15, 40]
        assert await verify(s) == []


async def test_verify_detects_tampering(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        await ledger.credit(s, employee_id="E1", amount=40, key="g", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy)
    async with db.uow() as s:
        await s.execute(text("UPDATE lots SET remaining = 39"))
    async with db.uow() as s:
        problems = await verify(s)
    assert any("emp:E1" in p for p in problems) and any(p.startswith("lot ") for p in problems)


async def test_postgres_rejects_unbalanced_and_negative(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("database-level ledger guards are PostgreSQL triggers")
    await _setup(db)
    with pytest.raises(Exception, match="unbalanced"):
        async with db.uow() as s:
            await s.execute(text(
                "INSERT INTO ledger_transactions (idempotency_key, kind, actor, reason, created_at) "
                "VALUES ('bad', 'grant', 'x', 'r', now())"))
            await s.execute(text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount) "
                "SELECT id, 1, 5 FROM ledger_transactions WHERE idempotency_key = 'bad'"))
    with pytest.raises(Exception, match="balance_nonneg"):
        async with db.uow() as s:
            await s.execute(text("INSERT INTO accounts (code, kind, employee_id, balance) "
                                 "VALUES ('emp:E2', 'employee', 'E2', -1)"))


async def test_posting_as_found_later_and_loaded_lots_kept_current(
        db: Database, policy: Policy, now: datetime) -> None:
    """A posting is returned as plain values equal to what ``find_transaction`` reads back; a
    lot loaded as an object before a debit in the same unit of work shows what is left of it
    (the lots' points are written by plain UPDATEs), on the lane (``Database.run``) too."""
    await _setup(db)

    async def work(s: AsyncSession) -> tuple[ledger.Posting, ledger.Posting, int]:
        granted = await ledger.credit(s, employee_id="E1", amount=50, key="g", kind="grant",
                                      actor="HR", reason="r", now=now, policy=policy)
        lot = await s.scalar(select(Lot))
        assert lot is not None and lot.remaining == 50
        spent = await ledger.debit(s, employee_id="E1", amount=20, key="d", kind="deduct",
                                   actor="HR", reason="r", now=now, to="adjustment")
        return granted, spent, lot.remaining

    granted, spent, left = await db.run(work)
    assert left == 30
    assert sorted(e.amount for e in spent.entries) == [-20, 20]
    async with db.uow() as s:
        assert await find_transaction(s, "g") == granted
        assert await find_transaction(s, "d") == spent
        assert await find_transaction(s, "none") is None
        assert (await s.scalar(select(Lot))).remaining == 30  # type: ignore[union-attr]
