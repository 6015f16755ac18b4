"""Automatic grants (规则引擎, SPEC section 3).

Each rule grants at most once per person per occasion: the ledger key is
``rule:<name>:<employee_id>:<occasion YYYY-MM-DD>``, so a rerun on the same day, or a later run
inside the new-hire catch-up window, finds the posting and grants nothing.

Occasions, all in local time (policy.timezone):
- birthday: the employee's MM-DD is today; 02-29 birthdays are celebrated on 02-28 in common years.
- anniversary: the hire date's month-day is today and at least one full year has passed; one grant
  per year of service, the occasion being that year's anniversary.
- new_hire: the hire date lies within the last 7 days including today (a missed daily run still
  grants); the occasion is the hire date.
- recurring: today is ``rule.day`` of the month, for active employees matching ``rule.roles`` and
  ``rule.departments`` when those are non-empty (roles include the derived ``manager``).
Birthday, anniversary and recurring rules fire on the day only: a day without a run is not caught up.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, extract, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, outbox
from core.models import Employee, LedgerTransaction
from core.policy import GrantRule, Policy
from core.timeutil import local_date

NEW_HIRE_WINDOW_DAYS = 7
_CHUNK = 500


@dataclass(frozen=True)
class RuleGrant:
    rule: str
    employee_id: str
    points: int
    occasion: date
    duplicate: bool


@dataclass(frozen=True)
class _Person:
    employee_id: str
    occasion: date


def rule_key(rule: GrantRule, employee_id: str, occasion: date) -> str:
    return f"rule:{rule.name}:{employee_id}:{occasion.isoformat()}"


def _is_feb_28_of_common_year(today: date) -> bool:
    return (today.month, today.day) == (2, 28) and not calendar.isleap(today.year)


def _active() -> ColumnElement[bool]:
    return Employee.active.is_(True)


async def _people(session: AsyncSession, *where: ColumnElement[bool]) -> list[Row[Any]]:
    rows = await session.execute(select(Employee.employee_id, Employee.hire_date, Employee.roles,
                                        Employee.department).where(_active(), *where)
                                 .order_by(Employee.employee_id))
    return list(rows)


async def _birthdays(session: AsyncSession, today: date) -> list[_Person]:
    days = [today.strftime("%m-%d")] + (["02-29"] if _is_feb_28_of_common_year(today) else [])
    rows = await _people(session, Employee.birthday.in_(days))
    return [_Person(r[0], today) for r in rows]


async def _anniversaries(session: AsyncSession, today: date) -> list[_Person]:
    same_day = extract("day", Employee.hire_date) == today.day
    if _is_feb_28_of_common_year(today):
        same_day = or_(same_day, extract("day", Employee.hire_date) == 29)
    rows = await _people(session, Employee.hire_date.is_not(None),
                         extract("month", Employee.hire_date) == today.month, same_day,
                         Employee.hire_date < today)
    return [_Person(r[0], today) for r in rows if r[1].year < today.year]


async def _new_hires(session: AsyncSession, today: date) -> list[_Person]:
    first = today - timedelta(days=NEW_HIRE_WINDOW_DAYS - 1)
    rows = await _people(session, Employee.hire_date >= first, Employee.hire_date <= today)
    return [_Person(r[0], r[1]) for r in rows]


async def _recurring(session: AsyncSession, rule: GrantRule, today: date) -> list[_Person]:
    if today.day != rule.day:
        return []
    where = [Employee.department.in_(rule.departments)] if rule.departments else []
    rows = await _people(session, *where)
    if rule.roles and "employee" not in rule.roles:
        managers = set(await session.scalars(
            select(Employee.manager_id).where(_active(), Employee.manager_id.is_not(None))))
        wanted = set(rule.roles)
        rows = [r for r in rows if _roles(r[2], r[0] in managers) & wanted]
    return [_Person(r[0], today) for r in rows]


def _roles(declared: str, is_manager: bool) -> set[str]:
    roles = {r for r in declared.split("|") if r} | {"employee"}
    return roles | {"manager"} if is_manager else roles


async def _occasions(session: AsyncSession, rule: GrantRule, today: date) -> list[_Person]:
    if rule.kind == "birthday":
        return await _birthdays(session, today)
    if rule.kind == "anniversary":
        return await _anniversaries(session, today)
    if rule.kind == "new_hire":
        return await _new_hires(session, today)
    return await _recurring(session, rule, today)


async def _posted(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        found.update(await session.scalars(select(LedgerTransaction.idempotency_key).where(
            LedgerTransaction.idempotency_key.in_(keys[i:i + _CHUNK]))))
    return found


async def _grant(
    session: AsyncSession, rule: GrantRule, person: _Person, *, now: datetime, policy: Policy,
) -> None:
    key = rule_key(rule, person.employee_id, person.occasion)
    reason = rule.reason or rule.name
    await ledger.credit(session, employee_id=person.employee_id, amount=rule.points, key=key,
                        kind="rule", actor="system", reason=reason, now=now, policy=policy,
                        source="issuance")
    await outbox.push(session, employee_id=person.employee_id, kind="points_granted", now=now,
                      payload={"amount": rule.points, "reason": reason, "actor": "system",
                               "actor_id": "system", "rule": rule.name, "rule_kind": rule.kind,
                               "occasion": person.occasion.isoformat()},
                      dedupe_key=key)


async def run_auto_grants(session: AsyncSession, *, now: datetime, policy: Policy) -> list[RuleGrant]:
    """Apply every rule of ``policy.rules`` for the local day of ``now`` to active employees.

    Returns one RuleGrant per (rule, person, occasion) due today, ``duplicate=True`` for those
    granted by an earlier run. Never commits; the caller's unit of work makes the run atomic.
    """
    today = local_date(now, policy)
    results: list[RuleGrant] = []
    for rule in policy.rules:
        people = await _occasions(session, rule, today)
        done = await _posted(session, [rule_key(rule, p.employee_id, p.occasion) for p in people])
        for person in people:
            duplicate = rule_key(rule, person.employee_id, person.occasion) in done
            if not duplicate:
                await _grant(session, rule, person, now=now, policy=policy)
            results.append(RuleGrant(rule.name, person.employee_id, rule.points, person.occasion,
                                     duplicate))
    return results
