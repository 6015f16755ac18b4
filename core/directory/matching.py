"""Finding the employee behind a platform member: platform id, then mobile, then e-mail.

One person on both platforms stays one account: the DingTalk sync finds the employee the WeCom
sync created (or the CSV import) by mobile or e-mail and adds the DingTalk id to it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.directory.changes import Member
from core.models import Employee

_SAFE_ID = re.compile(r"[A-Za-z0-9_.@-]{1,58}")
_PREFIX = {"wecom": "wc-", "dingtalk": "dt-"}
_CHUNK = 500


def platform_column(platform: str) -> InstrumentedAttribute[str | None]:
    return {"wecom": Employee.wecom_userid, "dingtalk": Employee.dingtalk_userid}[platform]


def normal_mobile(value: str | None) -> str | None:
    """Digits only, without China's +86 prefix, so "+86 138-0000-0000" meets "13800000000"."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits or None


def normal_email(value: str | None) -> str | None:
    return (value or "").strip().lower() or None


def generated_id(platform: str, user_id: str, taken: set[str]) -> str:
    """A new employee's id: ``wc-<userid>`` / ``dt-<userid>`` when that is a clean, free id,
    else the prefix and a digest of the user id (stable, so a replayed event picks the same)."""
    prefix = _PREFIX[platform]
    candidate = prefix + user_id if _SAFE_ID.fullmatch(user_id) else ""
    n = 0
    while not candidate or candidate in taken:
        digest = hashlib.sha256(f"{platform}:{user_id}:{n}".encode()).hexdigest()[:12]
        candidate, n = prefix + digest, n + 1
    return candidate


@dataclass
class Index:
    """Employees by platform id, mobile and e-mail; ``claimed`` ones are already matched."""

    platform: str
    by_pid: dict[str, Employee] = field(default_factory=dict)
    by_mobile: dict[str, list[Employee]] = field(default_factory=dict)
    by_email: dict[str, list[Employee]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)

    def add(self, emp: Employee) -> None:
        self.ids.add(emp.employee_id)
        pid = getattr(emp, platform_column(self.platform).key)
        if pid:
            self.by_pid[pid] = emp
        if (m := normal_mobile(emp.mobile)) is not None:
            self.by_mobile.setdefault(m, []).append(emp)
        if (e := normal_email(emp.email)) is not None:
            self.by_email.setdefault(e, []).append(emp)

    def match(self, member: Member) -> Employee | None:
        """The employee for ``member``, or None for a new person; claims the one it returns."""
        found = self.by_pid.get(member.user_id)
        if found is None:
            found = (self._free(self.by_mobile.get(normal_mobile(member.mobile) or ""))
                     or self._free(self.by_email.get(normal_email(member.email) or "")))
        if found is not None:
            self.claimed.add(found.employee_id)
        return found

    def _free(self, candidates: Sequence[Employee] | None) -> Employee | None:
        """A mobile/e-mail match only counts for someone without an id on this platform yet
        (else it is another account of theirs) and only when exactly one person qualifies."""
        col = platform_column(self.platform).key
        free = [e for e in candidates or () if getattr(e, col) is None
                and e.employee_id not in self.claimed]
        if len(free) != 1:
            return None
        return free[0]


async def load_all(session: AsyncSession, platform: str) -> Index:
    index = Index(platform)
    for emp in await session.scalars(select(Employee).order_by(Employee.active.desc(),
                                                               Employee.employee_id)):
        index.add(emp)
    return index


async def load_for(session: AsyncSession, platform: str, members: Iterable[Member]) -> Index:
    """Only the employees that could match ``members`` or be their managers (for one event)."""
    members = list(members)
    pids = {m.user_id for m in members} | {m.manager_user_id for m in members if m.manager_user_id}
    mobiles = {m.mobile for m in members if m.mobile}
    emails = {m.email for m in members if m.email}
    col = platform_column(platform)
    wanted_m = {normal_mobile(m) for m in mobiles} - {None}
    wanted_e = {normal_email(e) for e in emails} - {None}
    # Mobiles are stored as typed ("+86 138-…"): narrow by the last digits in SQL, then compare
    # normalized below. E-mails compare case-insensitively.
    conds = [col.in_(pids), func.lower(Employee.email).in_(wanted_e)]
    conds += [Employee.mobile.like(f"%{m[-4:]}") for m in wanted_m if m]
    index = Index(platform)
    rows = await session.scalars(select(Employee).where(or_(*conds))
                                 .order_by(Employee.active.desc(), Employee.employee_id))
    for emp in rows:
        pid = getattr(emp, col.key)
        if (pid in pids or normal_mobile(emp.mobile) in wanted_m
                or normal_email(emp.email) in wanted_e):
            index.add(emp)
    return index


async def taken_ids(session: AsyncSession, candidates: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(candidates), _CHUNK):
        found.update(await session.scalars(select(Employee.employee_id).where(
            Employee.employee_id.in_(candidates[i:i + _CHUNK]))))
    return found
