"""A grants file checked row by row before anything changes (the console's 发放 preview).

Unlike ``parse_grants_csv``, which stops at the first bad row, the preview reports every row:
who, the new balance, and each problem by line; rows whose key was already posted are marked
as already granted (confirming skips them, so the same file twice grants once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.access import authorize_hr
from core.csvfile import csv_records
from core.hr.preview_rows import PreviewRow as RowsPreviewRow
from core.hr.preview_rows import preview_grants as preview_rows
from core.hr.service import GrantRow, _grant_row, expiry_instant, file_digest
from core.models import Employee
from core.policy import Policy
from core.problems import CellProblem, problem

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
    problem: CellProblem | None
    already: bool


@dataclass(frozen=True)
class GrantsPreview:
    rows: list[PreviewRow]
    problem: errors.InvalidInput | None  # a whole-file problem (header, malformed CSV)

    @property
    def bad(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.problem]

    @property
    def ok(self) -> bool:
        return not self.problem and not self.bad and bool(self.rows)

    @property
    def new_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if not r.problem and not r.already]


async def preview_grants(
    session: AsyncSession, *, actor_id: str, text: str, now: datetime, policy: Policy,
) -> GrantsPreview:
    """Read-only: every row of ``text`` with its outcome if confirmed now. The rows that parse
    are judged by the rows preview (``core.hr.preview_rows``), which checks the actor too."""
    try:
        records = csv_records(text, required=REQUIRED)
    except errors.InvalidInput as exc:
        await authorize_hr(session, actor_id, "grant")
        return GrantsPreview([], exc)
    digest = file_digest(text)
    parsed: list[GrantRow] = []
    failed: dict[int, PreviewRow] = {}
    for line, cells in records:
        try:
            parsed.append(_grant_row(line, cells, digest))
        except errors.InvalidInput as exc:
            failed[line] = await _unparsed(session, line, cells, exc.problem)
    held = _file_problems(parsed, now, policy)
    judged = {r.line: r for r in await preview_rows(
        session, actor_id=actor_id, rows=parsed, now=now, problems=held)}
    reasons = {row.line: row.reason for row in parsed}
    return GrantsPreview([failed[line] if line in failed else
                          _from_rows(judged[line], reasons[line], held.get(line))
                          for line, _ in records], None)


def _file_problems(rows: list[GrantRow], now: datetime,
                   policy: Policy) -> dict[int, CellProblem]:
    """Problems only a file has: a key used twice, an expiry already past (by line)."""
    seen: dict[str, int] = {}
    held: dict[int, CellProblem] = {}
    for row in rows:
        if row.key in seen:
            held[row.line] = problem("key", "used_on", first=seen[row.key])
        seen.setdefault(row.key, row.line)
        until = expiry_instant(row.expires_at, policy)
        if until is not None and until <= now:
            held.setdefault(row.line, problem("expires_at", "not_future"))
    return held


def _from_rows(row: RowsPreviewRow, reason: str, held: CellProblem | None) -> PreviewRow:
    """The console's row from the rows preview's: one problem, the file's key problem first,
    then the employee's, then the expiry."""
    inactive = row.balance is None
    key_problem = held is not None and held.column == "key"
    found = (problem("employee_id", "not_an_active_employee")
             if inactive and not key_problem else held)
    return PreviewRow(row.line, row.employee_id, row.name or "", row.points, reason,
                      row.balance or 0, row.new_balance or 0, found, row.duplicate)


async def _unparsed(session: AsyncSession, line: int, cells: dict[str, str],
                    problem: CellProblem | None) -> PreviewRow:
    employee_id = cells.get("employee_id", "")
    emp = await session.get(Employee, employee_id) if employee_id else None
    return PreviewRow(line, employee_id, emp.name if emp is not None else "", 0,
                      cells.get("reason", ""), 0, 0, problem, False)
