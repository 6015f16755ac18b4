"""HR grants (发放) and deductions (扣除), one at a time or from a grants CSV.

Both are idempotent by the caller's key: a repeat returns the first result with
``duplicate=True`` and changes nothing (no second posting, no second push).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger, outbox
from core.access import authorize_hr
from core.audit.service import record as audit
from core.csvfile import bad_cell, csv_records, date_cell
from core.directory import service as directory
from core.ledger.service import Posting, find_transaction
from core.models import Account, Employee
from core.policy import Policy
from core.timeutil import start_of_local_day

_MAX_KEY = 190  # ledger keys are 200 characters including the ``grant:`` prefix
_POINTS = re.compile(r"\d{1,9}")


@dataclass(frozen=True)
class GrantResult:
    transaction_id: int
    employee_id: str
    amount: int
    balance: int
    duplicate: bool


@dataclass(frozen=True)
class GrantRow:
    """One line of a grants CSV; ``expires_at`` is a local date (usable through that day)."""

    line: int
    employee_id: str
    points: int
    reason: str
    key: str
    expires_at: date | None = None


def _check_request(amount: int, reason: str, key: str) -> None:
    if amount <= 0:
        raise errors.InvalidAmount(amount=amount)
    if not reason.strip():
        raise errors.ReasonRequired()
    if not key or len(key) > _MAX_KEY:
        raise errors.InvalidInput(field="key", message=f"key must be 1-{_MAX_KEY} characters")


def expiry_instant(value: date | datetime | None, policy: Policy) -> datetime | None:
    """A date means "usable through that local day"; a datetime is taken as is."""
    if value is None or isinstance(value, datetime):
        return value
    return start_of_local_day(value + timedelta(days=1), policy)


async def _result(
    session: AsyncSession, tx: Posting, *, duplicate: bool, now: datetime,
) -> GrantResult:
    legs = [e for e in tx.entries if e.lot_id is not None]  # the employee's side of the posting
    acc = await session.get(Account, legs[0].account_id)
    assert acc is not None and acc.employee_id is not None
    bal = await ledger.balance(session, employee_id=acc.employee_id, now=now)
    return GrantResult(tx.id, acc.employee_id, abs(sum(e.amount for e in legs)), bal.balance,
                       duplicate)


async def grant(
    session: AsyncSession, *, actor_id: str, employee_id: str, amount: int, reason: str, key: str,
    now: datetime, policy: Policy, expires_at: date | datetime | None = None,
) -> GrantResult:
    """Credit ``amount`` from system:issuance to an active employee and push ``points_granted``.

    Forbidden unless ``actor_id`` is an operator (cli / api) or an active HR / admin. A repeated
    ``key`` returns the first grant (``duplicate=True``) even if the other arguments differ.
    """
    actor = await authorize_hr(session, actor_id, "grant")
    _check_request(amount, reason, key)
    if (tx := await find_transaction(session, f"grant:{key}")) is not None:
        return await _result(session, tx, duplicate=True, now=now)
    emp = await directory.get_active(session, employee_id)
    until = expiry_instant(expires_at, policy)
    if until is not None and until <= now:
        raise errors.ExpiryInPast()
    tx = await ledger.credit(session, employee_id=emp.employee_id, amount=amount,
                             key=f"grant:{key}", kind="grant", actor=actor_id, reason=reason.strip(),
                             now=now, policy=policy, source="issuance", expires_at=until)
    return await _tell(session, tx, "points_granted", actor=actor, actor_id=actor_id,
                       employee_id=emp.employee_id, reason=reason, key=f"grant:{key}", now=now)


async def deduct(
    session: AsyncSession, *, actor_id: str, employee_id: str, amount: int, reason: str, key: str,
    now: datetime, policy: Policy,
) -> GrantResult:
    """扣除: debit an active employee to system:adjustment and push ``points_deducted``.

    InsufficientPoints (changing nothing) if the unexpired balance does not cover ``amount``;
    balances never go negative. Same authorization and idempotency as ``grant``.
    """
    actor = await authorize_hr(session, actor_id, "deduct")
    _check_request(amount, reason, key)
    if (tx := await find_transaction(session, f"deduct:{key}")) is not None:
        return await _result(session, tx, duplicate=True, now=now)
    emp = await directory.get_active(session, employee_id)
    tx = await ledger.debit(session, employee_id=emp.employee_id, amount=amount,
                            key=f"deduct:{key}", kind="deduct", actor=actor_id,
                            reason=reason.strip(), now=now, to="adjustment")
    return await _tell(session, tx, "points_deducted", actor=actor, actor_id=actor_id,
                       employee_id=emp.employee_id, reason=reason, key=f"deduct:{key}", now=now)


async def _tell(
    session: AsyncSession, tx: Posting, kind: str, *, actor: str, actor_id: str,
    employee_id: str, reason: str, key: str, now: datetime,
) -> GrantResult:
    """The result of a fresh grant or deduction, pushed to the employee in the same transaction."""
    result = await _result(session, tx, duplicate=False, now=now)
    await outbox.push(session, employee_id=employee_id, kind=kind, now=now, dedupe_key=key,
                      payload={"amount": result.amount, "reason": reason.strip(), "actor": actor,
                               "actor_id": actor_id, "balance": result.balance,
                               "transaction_id": tx.id})
    change = result.amount if kind == "points_granted" else -result.amount
    await audit(session, actor=actor_id, action="grant" if change > 0 else "deduct",
                subject=f"employee:{employee_id}", now=now,
                before={"balance": result.balance - change},
                after={"balance": result.balance, "amount": result.amount,
                       "reason": reason.strip(), "transaction_id": tx.id, "key": key})
    return result


def _grant_row(line: int, cells: dict[str, str], digest: str) -> GrantRow:
    if not cells["employee_id"]:
        raise bad_cell(line, "employee_id", "required")
    points = cells["points"]
    if not _POINTS.fullmatch(points) or int(points) <= 0:
        raise bad_cell(line, "points", "not_positive", value=points)
    if not cells["reason"]:
        raise bad_cell(line, "reason", "required")
    key = cells.get("key", "") or f"file:{digest}:{line}"
    if len(key) > _MAX_KEY:
        raise bad_cell(line, "key", "too_long", max=_MAX_KEY)
    return GrantRow(line, cells["employee_id"], int(points), cells["reason"], key,
                    date_cell(line, "expires_at", cells.get("expires_at", "")))


def file_digest(text: str) -> str:
    """What default row keys are made of: the same file (BOM and line ends aside) → same keys."""
    normalized = text.removeprefix("\ufeff").replace("\r\n", "\n")
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:16]


def parse_grants_csv(text: str) -> list[GrantRow]:
    """Parse ``employee_id,points,reason[,key][,expires_at]`` (unknown columns ignored).

    A row without a key gets ``file:<hash of the file>:<line>``, so re-running the very same file
    grants nothing twice, while a different file (even one differing only in a reason) is new.
    To repeat identical grants on purpose (e.g. the same bonus list next month), give keys.
    """
    digest = file_digest(text)
    rows = [_grant_row(line, cells, digest)
            for line, cells in csv_records(text, required=("employee_id", "points", "reason"))]
    seen: dict[str, int] = {}
    for row in rows:
        if row.key in seen:
            raise bad_cell(row.line, "key", "value_used_on", value=row.key, first=seen[row.key])
        seen[row.key] = row.line
    return rows


async def grant_rows(
    session: AsyncSession, *, actor_id: str, rows: Sequence[GrantRow], now: datetime,
    policy: Policy,
) -> list[GrantResult]:
    """All rows of a grants file in the caller's unit of work; an unknown or inactive employee
    raises InvalidInput with that row's line before anything is granted."""
    await authorize_hr(session, actor_id, "grant")
    ids = sorted({row.employee_id for row in rows})
    active = set(await session.scalars(select(Employee.employee_id).where(
        Employee.employee_id.in_(ids), Employee.active.is_(True)))) if ids else set()
    for row in rows:
        if row.employee_id not in active:
            raise bad_cell(row.line, "employee_id", "not_active", value=row.employee_id)
    return [await grant(session, actor_id=actor_id, employee_id=row.employee_id,
                        amount=row.points, reason=row.reason, key=row.key, now=now,
                        policy=policy, expires_at=row.expires_at) for row in rows]
