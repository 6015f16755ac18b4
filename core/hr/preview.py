"""A grants file checked row by row before anything changes (the console's 发放 preview).

Unlike ``parse_grants_csv``, which stops at the first bad row, the preview reports every row:
who, the new balance, and each problem by line; rows whose key was already posted are marked
as already granted (confirming skips them, so the same file twice grants once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger
from core.directory.service import csv_records
from core.hr.service import _grant_row, expiry_instant, file_digest
from core.ledger.service import find_transaction
from core.models import Account, Employee
from core.policy import Policy

REQUIRED = ("employee_id", "points", "reason")


@dataclass(frozen=True)
class PreviewRow:
    line: int
    employee_id: str
    name: str
    points: int
    reason: str
    balance: int
    new_balance: int
    problem: str
    already: bool


@dataclass(frozen=True)
class GrantsPreview:
    rows: list[PreviewRow]
    problem: str  # a whole-file problem (header, malformed CSV), else ""

    @property
    def bad(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.problem]

    @property
    def ok(self) -> bool:
        return not self.problem and not self.bad and bool(self.rows)

    @property
    def new_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if not r.problem and not r.already]


def _message(exc: errors.CoreError) -> str:
    return str(exc.params.get("message") or exc.code)


async def preview_grants(
    session: AsyncSession, *, text: str, now: datetime, policy: Policy,
) -> GrantsPreview:
    """Read-only: every row of ``text`` with its outcome if confirmed now."""
    try:
        records = csv_records(text, required=REQUIRED)
    except errors.InvalidInput as exc:
        return GrantsPreview([], f"line {exc.params.get('line', 1)}: {_message(exc)}")
    digest, seen = file_digest(text), {}  # type: ignore[var-annotated]
    running: dict[str, int] = {}
    rows = []
    for line, cells in records:
        rows.append(await _row(session, line, cells, digest, seen, running, now, policy))
    return GrantsPreview(rows, "")


async def _balance(session: AsyncSession, employee_id: str, now: datetime) -> int:
    """The balance without creating an account (a preview writes nothing)."""
    has = await session.scalar(select(Account.id).where(Account.employee_id == employee_id))
    if has is None:
        return 0
    return (await ledger.balance(session, employee_id=employee_id, now=now)).balance


async def _row(
    session: AsyncSession, line: int, cells: dict[str, str], digest: str, seen: dict[str, int],
    running: dict[str, int], now: datetime, policy: Policy,
) -> PreviewRow:
    employee_id = cells.get("employee_id", "")
    emp = await session.get(Employee, employee_id) if employee_id else None
    name = emp.name if emp is not None else ""
    try:
        row = _grant_row(line, cells, digest)
    except errors.InvalidInput as exc:
        return PreviewRow(line, employee_id, name, 0, cells.get("reason", ""), 0, 0,
                          _message(exc), False)
    problem = ""
    if row.key in seen:
        problem = f"key: already used on line {seen[row.key]}"
    seen.setdefault(row.key, line)
    if emp is None or not emp.active:
        problem = problem or "employee_id: not an active employee"
    until = expiry_instant(row.expires_at, policy)
    if until is not None and until <= now:
        problem = problem or "expires_at: must be in the future"
    already = await find_transaction(session, f"grant:{row.key}") is not None
    balance = 0
    if emp is not None and emp.active:
        if employee_id not in running:
            running[employee_id] = await _balance(session, employee_id, now)
        balance = running[employee_id]
        if not problem and not already:
            running[employee_id] += row.points
    return PreviewRow(line, employee_id, name, row.points, row.reason, balance,
                      running.get(employee_id, 0), problem, already)
