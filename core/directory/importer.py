"""Directory CSV import (SPEC section 6).

Every row is parsed and every reference checked before anything is written, so an import applies
whole or not at all. Bad rows raise BadRows (an InvalidInput) naming every one of them by physical line (header = 1),
so one run shows all that needs fixing.
Columns missing from the file's header are left as they are on existing employees; an empty cell
clears the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.audit.service import record as audit
from core.csvfile import bad_cell, csv_records, date_cell
from core.directory.service import mask_email, mask_mobile
from core.models import Account, Employee

COLUMNS = ("employee_id", "name", "department", "manager_id", "roles", "wecom_userid",
           "dingtalk_userid", "hire_date", "birthday", "locale", "mobile", "email")
ROLES = ("employee", "manager", "hr", "admin")
LOCALES = ("zh", "en")
PLATFORM_COLUMNS = ("wecom_userid", "dingtalk_userid")
UNIQUE_COLUMNS = ("employee_id", *PLATFORM_COLUMNS)
_LIMITS = {"employee_id": 64, "name": 100, "department": 100, "manager_id": 64, "roles": 200,
           "wecom_userid": 64, "dingtalk_userid": 64, "mobile": 32, "email": 200}
_BIRTHDAY = re.compile(r"(?:(\d{4})-)?(\d{2})-(\d{2})")
_MOBILE = re.compile(r"\+?[\d\s()-]{5,32}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CHUNK = 500  # stays far below SQLite's bound-parameter limit

__all__ = ["BadRows", "DirectoryImportReport", "EmployeeRow", "import_employees", "mask_email",
           "mask_mobile", "parse_directory_csv", "read_directory_csv"]


@dataclass(frozen=True)
class EmployeeRow:
    """One directory row; ``columns`` names the fields the source carried (others are kept)."""

    employee_id: str
    name: str
    department: str | None = None
    manager_id: str | None = None
    roles: tuple[str, ...] = ()
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None
    hire_date: date | None = None
    birthday: str | None = None  # MM-DD
    locale: str = "zh"
    mobile: str | None = None
    email: str | None = None
    line: int = 0
    columns: frozenset[str] = frozenset(COLUMNS)


@dataclass
class DirectoryImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    dry_run: bool = False
    names: dict[str, str] = field(default_factory=dict)  # everyone listed above: id → name
    changes: dict[str, list[str]] = field(default_factory=dict)  # updated id → changed columns


def _text(line: int, cells: dict[str, str], column: str) -> str | None:
    value = cells.get(column, "")
    if len(value) > _LIMITS[column]:
        raise bad_cell(line, column, "too_long", max=_LIMITS[column])
    return value or None


def _birthday(line: int, value: str) -> str | None:
    if not value:
        return None
    m = _BIRTHDAY.fullmatch(value)
    try:
        if m is None:
            raise ValueError
        date(int(m[1] or 2000), int(m[2]), int(m[3]))  # 2000 is a leap year: 02-29 is valid
    except ValueError:
        raise bad_cell(line, "birthday", "not_a_birthday", value=value) from None
    return f"{m[2]}-{m[3]}"


def _roles(line: int, value: str) -> tuple[str, ...]:
    roles: list[str] = []
    for raw in value.split("|"):
        role = raw.strip().lower()
        if role and role not in ROLES:
            raise bad_cell(line, "roles", "unknown_role", value=role, choices="|".join(ROLES))
        if role and role not in roles:
            roles.append(role)
    return tuple(roles)


def _checked(line: int, column: str, value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise bad_cell(line, column, "not_valid", value=value)
    return value


def _identity(line: int, cells: dict[str, str]) -> tuple[str, str]:
    employee_id = _text(line, cells, "employee_id")
    if employee_id is None:
        raise bad_cell(line, "employee_id", "required")
    if any(ch.isspace() for ch in employee_id):
        raise bad_cell(line, "employee_id", "has_spaces", value=employee_id)
    name = _text(line, cells, "name")
    if name is None:
        raise bad_cell(line, "name", "required")
    return employee_id, name


def _row(line: int, cells: dict[str, str], columns: frozenset[str]) -> EmployeeRow:
    employee_id, name = _identity(line, cells)
    locale = cells.get("locale", "").lower() or "zh"
    if locale not in LOCALES:
        raise bad_cell(line, "locale", "not_one_of", value=locale, choices="|".join(LOCALES))
    return EmployeeRow(
        employee_id=employee_id, name=name, department=_text(line, cells, "department"),
        manager_id=_text(line, cells, "manager_id"), roles=_roles(line, cells.get("roles", "")),
        wecom_userid=_text(line, cells, "wecom_userid"),
        dingtalk_userid=_text(line, cells, "dingtalk_userid"),
        hire_date=date_cell(line, "hire_date", cells.get("hire_date", "")),
        birthday=_birthday(line, cells.get("birthday", "")), locale=locale,
        mobile=_checked(line, "mobile", _text(line, cells, "mobile"), _MOBILE),
        email=_checked(line, "email", _text(line, cells, "email"), _EMAIL),
        line=line, columns=columns,
    )


@dataclass(eq=False, kw_only=True)
class BadRows(errors.InvalidInput):
    """Every bad row of one import (``problems``, by line); ``message`` lists them all, so a
    caller that shows one sentence still names every row."""


@dataclass(eq=False, kw_only=True)
class RowProblem(errors.InvalidInput):
    """A row that could not be read; ``employee_id`` as written, so other rows that name that
    person as their manager are not reported as well."""

    employee_id: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {k: v for k, v in super().params.items() if k != "employee_id"}


def bad_rows(problems: Sequence[errors.CoreError]) -> BadRows:
    unique = {(p.line, p.message): p for p in problems if isinstance(p, errors.InvalidInput)}
    found = [unique[k] for k in sorted(unique, key=lambda k: (k[0] or 0, k[1]))]
    first = found[0]
    if len(found) == 1:
        return BadRows(message=first.message, field=first.field, line=first.line,
                       problem=first.problem, problems=tuple(found))
    listed = "; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in found)
    rows = len({p.line for p in found})
    return BadRows(message=f"{rows} rows have problems: {listed}", problems=tuple(found))


def read_directory_csv(text: str) -> tuple[list[EmployeeRow], list[errors.InvalidInput]]:
    """The good rows of a directory CSV and a problem for each bad one (duplicates included)."""
    records = csv_records(text, required=("employee_id", "name"))
    present = frozenset(records[0][1]) & frozenset(COLUMNS) if records else frozenset(COLUMNS)
    rows: list[EmployeeRow] = []
    problems: list[errors.InvalidInput] = []
    for line, cells in records:
        try:
            rows.append(_row(line, cells, present))
        except errors.InvalidInput as exc:
            problems.append(RowProblem(message=exc.message, field=exc.field, line=exc.line,
                                       problem=exc.problem,
                                       employee_id=cells.get("employee_id") or None))
    problems += unique_problems(rows)
    return rows, problems


def parse_directory_csv(text: str) -> list[EmployeeRow]:
    """Parse and validate a directory CSV; bad rows raise BadRows naming every one of them."""
    rows, problems = read_directory_csv(text)
    if problems:
        raise bad_rows(problems)
    return rows


def unique_problems(rows: Iterable[EmployeeRow]) -> list[errors.InvalidInput]:
    """An employee id or platform user id that appears twice in one import, per repeat."""
    seen: dict[str, dict[str, int]] = {column: {} for column in UNIQUE_COLUMNS}
    problems: list[errors.InvalidInput] = []
    for row in rows:
        for column in UNIQUE_COLUMNS:
            value = getattr(row, column)
            if value is None:
                continue
            if value in seen[column]:
                problems.append(bad_cell(row.line, column, "value_used_on", value=value,
                                         first=seen[column][value]))
            else:
                seen[column][value] = row.line
    return problems


def check_unique(rows: Iterable[EmployeeRow]) -> None:
    """Refuse an employee id or platform user id that appears twice in one import."""
    if problems := unique_problems(rows):
        raise bad_rows(problems)


def values_of(row: EmployeeRow) -> dict[str, Any]:
    """The Employee attributes this row sets (only the columns it carried)."""
    values: dict[str, Any] = {"employee_id": row.employee_id, "name": row.name}
    for column in row.columns - {"employee_id", "name"}:
        value = getattr(row, column)
        if column == "department":
            value = value or ""
        elif column == "roles":
            value = "|".join(value)
        values[column] = value
    return values


def _new_employee(row: EmployeeRow, now: datetime) -> dict[str, Any]:
    base: dict[str, Any] = {column: None for column in COLUMNS}
    base.update(department="", roles="", locale="zh", active=True, created_at=now, updated_at=now)
    base.update(values_of(row))
    return base


def _changed_fields(emp: Employee, row: EmployeeRow) -> list[str]:
    """The columns this row changes on ``emp`` (``active`` when it comes back), in file order."""
    values = values_of(row)
    fields = [c for c in COLUMNS if c in values and getattr(emp, c) != values[c]]
    return fields if emp.active else ["active", *fields]


async def _names(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for chunk in _chunks(ids):
        names.update((i, n) for i, n in await session.execute(
            select(Employee.employee_id, Employee.name).where(Employee.employee_id.in_(chunk))))
    return names


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


async def _existing(session: AsyncSession, ids: Sequence[str]) -> dict[str, Employee]:
    found: dict[str, Employee] = {}
    for chunk in _chunks(ids):
        for emp in await session.scalars(select(Employee).where(Employee.employee_id.in_(chunk))):
            found[emp.employee_id] = emp
    return found


async def _manager_problems(
    session: AsyncSession, rows: Sequence[EmployeeRow], unread: Sequence[errors.InvalidInput] = (),
) -> list[errors.InvalidInput]:
    in_file = {row.employee_id for row in rows} | {
        p.employee_id for p in unread if isinstance(p, RowProblem) and p.employee_id}
    wanted = sorted({r.manager_id for r in rows if r.manager_id and r.manager_id not in in_file})
    known: set[str] = set()
    for chunk in _chunks(wanted):
        known.update(await session.scalars(
            select(Employee.employee_id).where(Employee.employee_id.in_(chunk))))
    problems: list[errors.InvalidInput] = []
    for row in rows:
        if row.manager_id == row.employee_id:
            problems.append(bad_cell(row.line, "manager_id", "own_manager"))
        elif row.manager_id and row.manager_id not in in_file and row.manager_id not in known:
            problems.append(bad_cell(row.line, "manager_id", "unknown_manager",
                                     value=row.manager_id))
    return problems


async def _platform_id_problems(
    session: AsyncSession, rows: Sequence[EmployeeRow],
) -> list[errors.InvalidInput]:
    """A platform id held in the database by someone else is a clash, unless that person is in
    this file too and gives it up (a swap between two employees is allowed)."""
    by_id = {row.employee_id: row for row in rows}
    problems: list[errors.InvalidInput] = []
    for column in PLATFORM_COLUMNS:
        attr = getattr(Employee, column)
        claims = {getattr(r, column): r for r in rows if column in r.columns and getattr(r, column)}
        for chunk in _chunks(sorted(claims)):
            held = await session.execute(
                select(attr, Employee.employee_id, Employee.name).where(attr.in_(chunk)))
            for value, holder, holder_name in held:
                row = claims[value]
                other = by_id.get(holder)
                if holder != row.employee_id and (other is None or column not in other.columns):
                    problems.append(bad_cell(row.line, column, "belongs_to", value=value,
                                             owner=f"{holder_name} ({holder})"))
    return problems


async def _to_deactivate(session: AsyncSession, rows: Sequence[EmployeeRow]) -> list[str]:
    in_file = {row.employee_id for row in rows}
    active = await session.scalars(select(Employee.employee_id).where(Employee.active.is_(True)))
    return sorted(set(active) - in_file)


async def import_employees(
    session: AsyncSession, *, rows: Sequence[EmployeeRow], dry_run: bool = False,
    deactivate_missing: bool = False, now: datetime, actor_id: str = "cli",
    action: str = "employees.import", problems: Sequence[errors.InvalidInput] = (),
) -> DirectoryImportReport:
    """Upsert the directory by employee_id and open a ledger account for each new employee.

    Checks everything first (duplicates, managers, platform-id clashes) and raises BadRows
    naming every bad row, with the ``problems`` found while parsing, before writing anything.
    ``dry_run`` reads only. ``deactivate_missing`` sets ``active=False`` on active employees
    absent from ``rows``; nobody is ever deleted.
    """
    found = [*problems, *unique_problems(rows), *await _manager_problems(session, rows, problems),
             *await _platform_id_problems(session, rows)]
    if found:
        raise bad_rows(found)
    if deactivate_missing and not rows:
        raise bad_cell(1, None, "no_rows")
    existing = await _existing(session, [row.employee_id for row in rows])
    report = DirectoryImportReport(dry_run=dry_run)
    for row in rows:
        emp = existing.get(row.employee_id)
        report.names[row.employee_id] = row.name
        if emp is None:
            report.created.append(row.employee_id)
        elif fields := _changed_fields(emp, row):
            report.updated.append(row.employee_id)
            report.changes[row.employee_id] = fields
        else:
            report.unchanged.append(row.employee_id)
    if deactivate_missing:
        report.deactivated = await _to_deactivate(session, rows)
        report.names.update(await _names(session, report.deactivated))
    if not dry_run:
        before = {i: _snapshot(existing[i]) for i in report.updated[:_AUDIT_DETAIL]}
        await _apply(session, rows, existing, report, now)
        await _audit(session, rows, before, report, actor_id=actor_id, action=action, now=now)
    return report


_AUDIT_DETAIL = 50  # employees whose before/after the audit entry of an import spells out
_SNAPSHOT = ("name", "department", "manager_id", "roles", "wecom_userid", "dingtalk_userid",
             "hire_date", "birthday", "locale", "mobile", "email", "active")


def _snapshot(values: Employee | dict[str, Any]) -> dict[str, Any]:
    """An employee's fields for the audit log, mobile and e-mail masked (SPEC section 8)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k, None)
    snap = {k: get(k) for k in _SNAPSHOT}
    snap["mobile"], snap["email"] = mask_mobile(snap["mobile"]), mask_email(snap["email"])
    return snap


async def _audit(
    session: AsyncSession, rows: Sequence[EmployeeRow], before: dict[str, dict[str, Any]],
    report: DirectoryImportReport, *, actor_id: str, action: str, now: datetime,
) -> None:
    if not (report.created or report.updated or report.deactivated):
        return
    by_id = {row.employee_id: row for row in rows}
    fresh = report.created[:_AUDIT_DETAIL]
    after = {i: _snapshot(_new_employee(by_id[i], now)) for i in fresh}
    after.update({i: _snapshot(await session.get(Employee, i) or {}) for i in before})
    subject = f"employee:{rows[0].employee_id}" if len(rows) == 1 else "directory"
    counts = {"created": len(report.created), "updated": len(report.updated),
              "deactivated": report.deactivated[:_AUDIT_DETAIL * 20]}
    await audit(session, actor=actor_id, action=action, subject=subject, now=now,
                before={"employees": before} if before else None,
                after={**counts, "employees": after})


async def _apply(
    session: AsyncSession, rows: Sequence[EmployeeRow], existing: dict[str, Employee],
    report: DirectoryImportReport, now: datetime,
) -> None:
    to_update, to_create = set(report.updated), set(report.created)
    updated = [row for row in rows if row.employee_id in to_update]
    await _release_platform_ids(session, updated, existing)
    for row in updated:
        emp = existing[row.employee_id]
        for key, value in values_of(row).items():
            setattr(emp, key, value)
        emp.active, emp.updated_at = True, now
    await session.flush()  # updates land before inserts that may reuse an id released above
    created = [row for row in rows if row.employee_id in to_create]
    for chunk in _chunks(created):
        await session.execute(insert(Employee), [_new_employee(row, now) for row in chunk])
        # Bulk twin of ledger.employee_account: same code and kind, without a query per person.
        await session.execute(insert(Account), [
            {"code": f"emp:{row.employee_id}", "kind": "employee",
             "employee_id": row.employee_id, "balance": 0} for row in chunk])
    for ids in _chunks(report.deactivated):
        await session.execute(update(Employee).where(Employee.employee_id.in_(ids))
                              .values(active=False, updated_at=now)
                              .execution_options(synchronize_session=False))
    await session.flush()


async def _release_platform_ids(
    session: AsyncSession, rows: Sequence[EmployeeRow], existing: dict[str, Employee],
) -> None:
    """Clear platform ids that change hands before setting new ones, so a swap between two
    employees never trips the unique index halfway through the flush."""
    released = False
    for row in rows:
        emp = existing[row.employee_id]
        for column in PLATFORM_COLUMNS:
            old = getattr(emp, column)
            if column in row.columns and old is not None and old != getattr(row, column):
                setattr(emp, column, None)
                released = True
    if released:
        await session.flush()

