"""Worked examples for automatic grants (规则引擎). ``now`` is 2026-03-15 10:00 Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from core import ledger
from core.autogrants.service import RuleGrant, run_auto_grants
from core.db import Database
from core.ledger.verify import verify
from core.models import LedgerTransaction, OutboxMessage
from core.policy import GrantRule, Policy
from tests.factories import add_employee

TODAY = date(2026, 3, 15)


def _only(policy: Policy, *rules: GrantRule) -> Policy:
    return policy.model_copy(update={"rules": list(rules)})


async def _run(db: Database, policy: Policy, now: datetime) -> list[RuleGrant]:
    async with db.uow() as s:
        return await run_auto_grants(s, now=now, policy=policy)


async def _balances(db: Database, now: datetime, *ids: str) -> list[int]:
    async with db.uow() as s:
        return [(await ledger.balance(s, employee_id=i, now=now)).balance for i in ids]


async def _counts(db: Database) -> tuple[int, int]:
    async with db.uow() as s:
        txs = await s.scalar(select(func.count()).select_from(LedgerTransaction))
        pushes = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.kind == "points_granted"))
        assert await verify(s) == []
    return int(txs or 0), int(pushes or 0)


async def test_birthday_fires_once_and_skips_inactive(db: Database, policy: Policy, now: datetime) -> None:
    rule = GrantRule(name="birthday", kind="birthday", points=50, reason="生日快乐")
    async with db.uow() as s:
        await add_employee(s, "E1", birthday="03-15")
        await add_employee(s, "E2", birthday="03-15", active=False)
        await add_employee(s, "E3", birthday="03-16")
    first = await _run(db, _only(policy, rule), now)
    assert first == [RuleGrant("birthday", "E1", 50, TODAY, False)]
    assert await _run(db, _only(policy, rule), now + timedelta(hours=5)) == [
        RuleGrant("birthday", "E1", 50, TODAY, True)]
    next_day = await _run(db, _only(policy, rule), now + timedelta(days=1))
    assert next_day == [RuleGrant("birthday", "E3", 50, date(2026, 3, 16), False)]
    assert await _balances(db, now, "E1", "E2", "E3") == [50, 0, 50]
    assert await _counts(db) == (2, 2)
    async with db.uow() as s:
        tx = await ledger.service.find_transaction(s, "rule:birthday:E1:2026-03-15")
        assert tx is not None and (tx.kind, tx.actor, tx.reason) == ("rule", "system", "生日快乐")


async def test_feb_29_birthday_on_feb_28_of_common_years(db: Database, policy: Policy) -> None:
    rule = GrantRule(name="bday", kind="birthday", points=10)
    async with db.uow() as s:
        await add_employee(s, "E1", birthday="02-29")
    feb28_2027 = datetime(2027, 2, 28, 2, 0, tzinfo=UTC)
    assert [g.occasion for g in await _run(db, _only(policy, rule), feb28_2027)] == [
        date(2027, 2, 28)]
    feb28_2028 = datetime(2028, 2, 28, 2, 0, tzinfo=UTC)  # leap year: wait for the 29th
    assert await _run(db, _only(policy, rule), feb28_2028) == []
    got = await _run(db, _only(policy, rule), feb28_2028 + timedelta(days=1))
    assert [(g.occasion, g.duplicate) for g in got] == [(date(2028, 2, 29), False)]
    assert await _counts(db) == (2, 2)


async def test_anniversary_once_per_year_of_service(db: Database, policy: Policy, now: datetime) -> None:
    rule = GrantRule(name="anniversary", kind="anniversary", points=100)
    async with db.uow() as s:
        await add_employee(s, "OLD", hire_date=date(2020, 3, 15))
        await add_employee(s, "ONE", hire_date=date(2025, 3, 15))
        await add_employee(s, "NEW", hire_date=date(2026, 3, 15))  # hired today: no anniversary
        await add_employee(s, "OTHER", hire_date=date(2020, 3, 16))
        await add_employee(s, "LEFT", hire_date=date(2020, 3, 15), active=False)
    got = await _run(db, _only(policy, rule), now)
    assert [(g.employee_id, g.occasion, g.duplicate) for g in got] == [
        ("OLD", TODAY, False), ("ONE", TODAY, False)]
    assert all(g.duplicate for g in await _run(db, _only(policy, rule), now))
    next_year = await _run(db, _only(policy, rule), now + timedelta(days=365))
    assert [(g.employee_id, g.occasion, g.duplicate) for g in next_year] == [
        ("NEW", date(2027, 3, 15), False), ("OLD", date(2027, 3, 15), False),
        ("ONE", date(2027, 3, 15), False)]
    assert await _balances(db, now + timedelta(days=365), "OLD", "ONE", "NEW") == [200, 200, 100]
    assert await _counts(db) == (5, 5)


async def test_new_hire_catch_up_window(db: Database, policy: Policy, now: datetime) -> None:
    rule = GrantRule(name="new_hire", kind="new_hire", points=100, reason="欢迎加入")
    async with db.uow() as s:
        await add_employee(s, "D0", hire_date=TODAY)
        await add_employee(s, "D6", hire_date=TODAY - timedelta(days=6))
        await add_employee(s, "D7", hire_date=TODAY - timedelta(days=7))  # outside the window
        await add_employee(s, "SOON", hire_date=TODAY + timedelta(days=2))
    got = await _run(db, _only(policy, rule), now)
    assert [(g.employee_id, g.occasion, g.duplicate) for g in got] == [
        ("D0", TODAY, False), ("D6", date(2026, 3, 9), False)]
    later = await _run(db, _only(policy, rule), now + timedelta(days=3))
    assert [(g.employee_id, g.duplicate) for g in later] == [
        ("D0", True), ("SOON", False)]  # D6 left the window; D0 already granted
    assert await _counts(db) == (3, 3)


async def test_recurring_rule_filters_roles_and_departments(
    db: Database, policy: Policy, now: datetime,
) -> None:
    managers = GrantRule(name="mgr-bonus", kind="recurring", points=30, day=15, roles=["manager"])
    sales = GrantRule(name="sales-meal", kind="recurring", points=20, day=15,
                      departments=["销售部"], reason="餐补")
    hr_on_1st = GrantRule(name="hr-1st", kind="recurring", points=5, day=1, roles=["hr"])
    async with db.uow() as s:
        await add_employee(s, "BOSS", department="销售部")
        await add_employee(s, "S1", department="销售部", manager_id="BOSS")
        await add_employee(s, "S2", department="销售部", active=False)
        await add_employee(s, "R1", department="研发部", roles="manager")
        await add_employee(s, "HR", department="人力资源部", roles="hr")
    rules = _only(policy, managers, sales, hr_on_1st)
    got = await _run(db, rules, now)
    assert [(g.rule, g.employee_id, g.points) for g in got] == [
        ("mgr-bonus", "BOSS", 30), ("mgr-bonus", "R1", 30),
        ("sales-meal", "BOSS", 20), ("sales-meal", "S1", 20)]
    assert all(g.duplicate for g in await _run(db, rules, now))
    assert await _run(db, rules, now + timedelta(days=1)) == []
    april = await _run(db, rules, datetime(2026, 4, 15, 2, 0, tzinfo=UTC))
    assert [g.occasion for g in april] == [date(2026, 4, 15)] * 4
    assert await _balances(db, now, "BOSS", "S1", "R1", "HR") == [100, 40, 60, 0]
    assert await _counts(db) == (8, 8)


async def test_default_policy_rules_together(db: Database, policy: Policy, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1", birthday="03-15", hire_date=date(2024, 3, 15))
    got = await _run(db, policy, now)
    assert [(g.rule, g.points) for g in got] == [("birthday", 50), ("anniversary", 100)]
    assert await _balances(db, now, "E1") == [150]
    assert await _counts(db) == (2, 2)
