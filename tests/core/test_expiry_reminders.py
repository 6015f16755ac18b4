"""Worked examples for expiry reminders at 30 / 7 / 1 days (each at most once per lot)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from core import ledger
from core.db import Database
from core.expiry_reminders.service import ReminderRunResult, expiry_reminders
from core.ledger.verify import verify
from core.models import Employee, OutboxMessage, ReminderMark
from core.policy import Policy
from tests.factories import add_employee


async def _lot(db: Database, policy: Policy, now: datetime, emp: str, amount: int, days: float) -> None:
    async with db.uow() as s:
        await ledger.credit(s, employee_id=emp, amount=amount, key=f"{emp}:{amount}:{days}",
                            kind="grant", actor="HR", reason="r", now=now, policy=policy,
                            expires_at=now + timedelta(days=days))


async def _run(db: Database, policy: Policy, at: datetime) -> ReminderRunResult:
    async with db.uow() as s:
        return await expiry_reminders(s, now=at, policy=policy)


async def _sent(db: Database) -> list[tuple[str, dict[str, Any]]]:
    async with db.uow() as s:
        rows = await s.execute(select(OutboxMessage.recipient, OutboxMessage.payload)
                               .where(OutboxMessage.kind == "expiry_reminder")
                               .order_by(OutboxMessage.id))
        return [(r, json.loads(p)) for r, p in rows]


def _brief(sent: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, int, int]]:
    return sorted((r, p["days"], p["amount"]) for r, p in sent)


async def test_thresholds_fire_once_per_lot(db: Database, policy: Policy, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1")
        await add_employee(s, "E2")
        await add_employee(s, "GONE")
    await _lot(db, policy, now, "E1", 40, 20)   # in (7, 30]: 30-day reminder
    await _lot(db, policy, now, "E1", 10, 25)
    await _lot(db, policy, now, "E1", 5, 5)     # first seen inside 7 days: the 7-day one only
    await _lot(db, policy, now, "E1", 70, 100)  # not yet
    await _lot(db, policy, now, "E2", 8, 0.5)   # inside a day: the 1-day one only
    await _lot(db, policy, now, "GONE", 9, 10)
    async with db.uow() as s:
        await ledger.debit(s, employee_id="E1", amount=5, key="spent", kind="deduct", actor="HR",
                           reason="r", now=now, to="adjustment")  # empties the 5-day lot
        await add_employee(s, "E3")
    await _lot(db, policy, now, "E3", 6, 3)
    async with db.uow() as s:
        gone = await s.get(Employee, "GONE")
        assert gone is not None
        gone.active = False

    assert await _run(db, policy, now) == ReminderRunResult(pushes=3, lots_marked=4)
    assert _brief(await _sent(db)) == [
        ("employee:E1", 30, 50), ("employee:E2", 1, 8), ("employee:E3", 7, 6)]
    e1 = next(p for r, p in await _sent(db) if r == "employee:E1")
    assert e1["expires_at"] == (now + timedelta(days=20)).isoformat() and len(e1["lot_ids"]) == 2
    assert await _run(db, policy, now + timedelta(hours=1)) == ReminderRunResult(0, 0)

    assert await _run(db, policy, now + timedelta(days=14)) == ReminderRunResult(1, 1)
    assert await _run(db, policy, now + timedelta(days=19, hours=12)) == ReminderRunResult(2, 2)
    assert await _run(db, policy, now + timedelta(days=24, hours=12)) == ReminderRunResult(1, 1)
    assert await _run(db, policy, now + timedelta(days=70)) == ReminderRunResult(1, 1)
    assert await _run(db, policy, now + timedelta(days=70)) == ReminderRunResult(0, 0)
    assert _brief(await _sent(db)) == [
        ("employee:E1", 1, 10), ("employee:E1", 1, 40), ("employee:E1", 7, 10),
        ("employee:E1", 7, 40), ("employee:E1", 30, 50), ("employee:E1", 30, 70),
        ("employee:E2", 1, 8), ("employee:E3", 7, 6)]
    async with db.uow() as s:
        marks = [(m.lot_id, m.days) for m in await s.scalars(select(ReminderMark))]
        # 3 + 3 for E1's 20- and 25-day lots, 1 for the 100-day lot, 3 for E2's, 2 for E3's
        assert len(marks) == len(set(marks)) == 12
        assert await verify(s) == []


async def test_late_first_run_marks_larger_thresholds(db: Database, policy: Policy, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1")
    await _lot(db, policy, now, "E1", 30, 6)
    await _lot(db, policy, now, "E1", 20, 6.5)
    assert await _run(db, policy, now) == ReminderRunResult(pushes=1, lots_marked=2)
    (recipient, payload), = await _sent(db)
    assert (recipient, payload["days"], payload["amount"]) == ("employee:E1", 7, 50)
    for hours in (1, 24, 48):
        assert (await _run(db, policy, now + timedelta(hours=hours))).pushes == 0
    assert (await _run(db, policy, now + timedelta(days=5, hours=12))).pushes == 1  # the 1-day one
    async with db.uow() as s:
        assert {m.days for m in await s.scalars(select(ReminderMark))} == {1, 7, 30}
        assert await verify(s) == []


async def test_custom_thresholds(db: Database, policy: Policy, now: datetime) -> None:
    custom = policy.model_copy(update={"reminders": policy.reminders.model_copy(
        update={"expiry_days": [3]})})
    async with db.uow() as s:
        await add_employee(s, "E1")
    await _lot(db, policy, now, "E1", 12, 10)
    assert (await _run(db, custom, now)).pushes == 0
    assert await _run(db, custom, now + timedelta(days=8)) == ReminderRunResult(1, 1)
    assert await _run(db, custom, now + timedelta(days=9)) == ReminderRunResult(0, 0)
