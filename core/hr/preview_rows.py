"""The preview of grants given as rows (the API): who gets what and their new balance, changing nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.access import authorize_hr
from core.hr.service import GrantRow
from core.models import Employee, LedgerTransaction
from core.problems import CellProblem, problem


@dataclass(frozen=True)
class PreviewRow:
    line: int
    employee_id: str
    name: str | None
    points: int
    balance: int | None
    new_balance: int | None
    duplicate: bool  # granted before with this key: confirming grants nothing for this row
    problems: list[CellProblem]


async def _known_keys(session: AsyncSession, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        found.update(await session.scalars(select(LedgerTransaction.idempotency_key).where(
            LedgerTransaction.idempotency_key.in_(keys[i:i + 500]))))
    return found


async def preview_grants(
    session: AsyncSession, *, actor_id: str, rows: Sequence[GrantRow], now: datetime,
    problems: Mapping[int, CellProblem] | None = None,
) -> list[PreviewRow]:
    """Every row with its employee, balance now and after the grants above it, and its problems
    (unknown or inactive employee, then any the caller found by line in ``problems``); a row with
    a problem or granted before moves no balance. Reads only."""
    await authorize_hr(session, actor_id, "grant")
    extra = problems or {}
    ids = sorted({row.employee_id for row in rows})
    people = {e.employee_id: e for e in await session.scalars(
        select(Employee).where(Employee.employee_id.in_(ids)))} if ids else {}
    done = await _known_keys(session, [f"grant:{row.key}" for row in rows])
    running: dict[str, int] = {}
    out = []
    for row in rows:
        emp = people.get(row.employee_id)
        found = ([] if emp is not None and emp.active else
                 [problem(None, "unknown_employee" if emp is None else "inactive_employee")])
        found += [extra[row.line]] if row.line in extra else []
        duplicate = f"grant:{row.key}" in done
        balance = new = None
        if emp is not None and emp.active:
            if row.employee_id not in running:
                running[row.employee_id] = (await ledger.balance(
                    session, employee_id=row.employee_id, now=now)).balance
            balance = running[row.employee_id]
            new = balance + (0 if duplicate or found else row.points)
            running[row.employee_id] = new
        out.append(PreviewRow(row.line, row.employee_id, emp.name if emp else None, row.points,
                              balance, new, duplicate, found))
    return out
