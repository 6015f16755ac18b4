"""Worked examples for HR grants and deductions (发放 / 扣除) and the grants CSV."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from core import errors, ledger
from core.db import Database
from core.hr.preview import preview_grants as preview_csv
from core.hr.preview_rows import preview_grants as preview_rows
from core.hr.service import deduct, grant, grant_rows, parse_grants_csv
from core.ledger.verify import verify
from core.models import LedgerTransaction, Lot, OutboxMessage
from core.policy import Policy
from tests.factories import add_employee


async def _setup(db: Database) -> None:
    async with db.uow() as s:
        await add_employee(s, "HR1", "林芳", roles="hr")
        await add_employee(s, "E1", "张三")
        await add_employee(s, "E2", "李四")
        await add_employee(s, "GONE", "离职", active=False)


async def _pushes(db: Database, kind: str) -> list[tuple[str, dict[str, object]]]:
    async with db.uow() as s:
        rows = await s.execute(select(OutboxMessage.recipient, OutboxMessage.payload)
                               .where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
        return [(r, json.loads(p)) for r, p in rows]


async def _tx_count(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


async def test_hr_grant_credits_pushes_and_is_idempotent(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await _setup(db)
    for attempt in range(2):
        async with db.uow() as s:
            res = await grant(s, actor_id="HR1", employee_id="E1", amount=200, reason="季度之星",
                              key="q1-star", now=now, policy=policy)
        assert (res.employee_id, res.amount, res.balance, res.duplicate) == ("E1", 200, 200,
                                                                           attempt == 1)
    assert await _pushes(db, "points_granted") == [("employee:E1", {
        "amount": 200, "reason": "季度之星", "actor": "林芳", "actor_id": "HR1", "balance": 200,
        "transaction_id": res.transaction_id})]
    async with db.uow() as s:
        tx = await ledger.service.find_transaction(s, "grant:q1-star")
        assert tx is not None and (tx.kind, tx.actor) == ("grant", "HR1")
        assert await verify(s) == []


async def test_operator_grant_with_expiry_date(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    async with db.uow() as s:
        res = await grant(s, actor_id="cli", employee_id="E2", amount=30, reason="补发",
                          key="k", now=now, policy=policy, expires_at=date(2026, 6, 30))
        lot = await s.scalar(select(Lot))
        # usable through 30 June local time → expires 1 July 00:00 Shanghai
        assert lot is not None and lot.expires_at == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
        assert res.balance == 30
        assert await verify(s) == []


@pytest.mark.parametrize(("actor", "who"), [("E1", "E1"), ("nobody", "nobody")])
async def test_non_hr_is_forbidden_and_nothing_changes(
    db: Database, policy: Policy, now: datetime, actor: str, who: str,
) -> None:
    await _setup(db)
    for fn in (grant, deduct):
        with pytest.raises(errors.Forbidden) as exc:
            async with db.uow() as s:
                await fn(s, actor_id=actor, employee_id="E2", amount=10, reason="自己发",
                         key="x", now=now, policy=policy)
        assert exc.value.params["actor"] == who
    assert await _tx_count(db) == 0
    assert await _pushes(db, "points_granted") == []


async def test_inactive_hr_is_forbidden(db: Database, policy: Policy, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "HR2", "前HR", roles="hr", active=False)
        await add_employee(s, "E1", "张三")
    with pytest.raises(errors.Forbidden):
        async with db.uow() as s:
            await grant(s, actor_id="HR2", employee_id="E1", amount=10, reason="r", key="x",
                        now=now, policy=policy)


async def test_grant_refusals_change_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await _setup(db)
    cases: list[tuple[dict[str, Any], type[errors.CoreError]]] = [
        ({"employee_id": "GONE"}, errors.InactiveEmployee),
        ({"employee_id": "E404"}, errors.UnknownEmployee),
        ({"amount": 0}, errors.InvalidAmount),
        ({"reason": "  "}, errors.ReasonRequired),
        ({"expires_at": date(2026, 3, 1)}, errors.ExpiryInPast),
    ]
    for change, error in cases:
        kwargs: dict[str, Any] = {"employee_id": "E1", "amount": 10, "reason": "奖励",
                                  "expires_at": None} | change
        with pytest.raises(error):
            async with db.uow() as s:
                await grant(s, actor_id="api", key="k", now=now, policy=policy, **kwargs)
    assert await _tx_count(db) == 0


async def test_deduct_moves_to_adjustment_and_never_goes_negative(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await _setup(db)
    async with db.uow() as s:
        await grant(s, actor_id="cli", employee_id="E1", amount=50, reason="奖励", key="g",
                    now=now, policy=policy)
    with pytest.raises(errors.InsufficientPoints) as exc:
        async with db.uow() as s:
            await deduct(s, actor_id="HR1", employee_id="E1", amount=60, reason="违规扣分",
                         key="d1", now=now, policy=policy)
    assert exc.value.params == {"balance": 50, "need": 60}
    for attempt in range(2):
        async with db.uow() as s:
            res = await deduct(s, actor_id="HR1", employee_id="E1", amount=20, reason="违规扣分",
                               key="d1", now=now, policy=policy)
        assert (res.amount, res.balance, res.duplicate) == (20, 30, attempt == 1)
    assert [p["amount"] for _, p in await _pushes(db, "points_deducted")] == [20]
    async with db.uow() as s:
        adj = await ledger.system_account(s, "adjustment")
        tx = await ledger.service.find_transaction(s, "deduct:d1")
        assert tx is not None and tx.kind == "deduct"
        assert {e.account_id: e.amount for e in tx.entries if e.amount > 0} == {adj.id: 20}
        assert await verify(s) == []


GRANTS = "\ufeffemployee_id,points,reason,key,expires_at,备注\nE1,100,年会奖,,,x\nE2,50,季度奖,q-E2,2026-12-31,\n"


def test_parse_grants_csv_with_deterministic_keys() -> None:
    rows = parse_grants_csv(GRANTS)
    assert [(r.line, r.employee_id, r.points, r.reason) for r in rows] == [
        (2, "E1", 100, "年会奖"), (3, "E2", 50, "季度奖")]
    assert rows[0].key.startswith("file:") and rows[0].key.endswith(":2")
    assert rows[1].key == "q-E2" and rows[1].expires_at == date(2026, 12, 31)
    assert parse_grants_csv(GRANTS)[0].key == rows[0].key  # same file, same keys
    assert parse_grants_csv(GRANTS.replace("年会奖", "年会大奖"))[0].key != rows[0].key


@pytest.mark.parametrize(("text", "line", "column"), [
    ("employee_id,points\nE1,5\n", 1, "header"),
    ("employee_id,points,reason\nE1,5,ok\nE2,-5,bad\n", 3, "points"),
    ("employee_id,points,reason\nE1,五,bad\n", 2, "points"),
    ("employee_id,points,reason\nE1,5,\n", 2, "reason"),
    ("employee_id,points,reason\n,5,r\n", 2, "employee_id"),
    ("employee_id,points,reason,expires_at\nE1,5,r,2026-13-01\n", 2, "expires_at"),
    ("employee_id,points,reason,key\nE1,5,r,k\nE2,5,r,k\n", 3, "key"),
])
def test_bad_grants_rows(text: str, line: int, column: str) -> None:
    with pytest.raises(errors.InvalidInput) as exc:
        parse_grants_csv(text)
    assert exc.value.params["line"] == line and exc.value.params["message"].startswith(column)


async def test_grants_file_is_idempotent_and_checks_people_first(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await _setup(db)
    rows = parse_grants_csv(GRANTS)
    for attempt in range(2):
        async with db.uow() as s:
            results = await grant_rows(s, actor_id="cli", rows=rows, now=now, policy=policy)
        assert [(r.employee_id, r.amount, r.duplicate) for r in results] == [
            ("E1", 100, attempt == 1), ("E2", 50, attempt == 1)]
    bad = parse_grants_csv("employee_id,points,reason\nE1,5,ok\nGONE,5,bye\n")
    with pytest.raises(errors.InvalidInput) as exc:
        async with db.uow() as s:
            await grant_rows(s, actor_id="cli", rows=bad, now=now, policy=policy)
    assert exc.value.params["line"] == 3
    assert await _tx_count(db) == 2
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E1", now=now)).balance == 100
        assert await verify(s) == []


@pytest.mark.parametrize("text", ["employee_id,points,reason\nE1,10,好\n", "points\n1\n"])
async def test_both_grants_previews_refuse_a_non_hr_actor(
    db: Database, policy: Policy, now: datetime, text: str,
) -> None:
    await _setup(db)
    rows = parse_grants_csv("employee_id,points,reason\nE1,10,好\n")
    with pytest.raises(errors.Forbidden):
        async with db.uow() as s:
            await preview_csv(s, actor_id="E1", text=text, now=now, policy=policy)
    with pytest.raises(errors.Forbidden):
        async with db.uow() as s:
            await preview_rows(s, actor_id="E1", rows=rows, now=now)


async def test_csv_preview_reports_each_row_once_and_moves_balances_only_for_good_rows(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await _setup(db)
    text = ("employee_id,points,reason,key\nE1,10,a,k1\nE1,5,b,k1\nGONE,3,c,k3\n"
            "E2,-1,d,k4\nE2,7,e,k5\n")
    async with db.uow() as s:
        got = await preview_csv(s, actor_id="HR1", text=text, now=now, policy=policy)
    assert [(r.line, r.balance, r.new_balance, r.problem.column if r.problem else "") for r in got.rows] == [
        (2, 0, 10, ""), (3, 10, 10, "key"), (4, 0, 0, "employee_id"), (5, 0, 0, "points"),
        (6, 0, 7, "")]
    assert [r.line for r in got.new_rows] == [2, 6] and not got.ok
    assert await _tx_count(db) == 0
