"""Directory sync (SPEC section 12): diff a platform's complete roster against the directory,
guard against mass deactivation, apply. Real-time events use the same diff for one member.

Guarantees: nobody is ever deleted; a refused or dry run changes nothing; an empty roster never
deactivates anyone (an API error never gets here: the caller has no roster then); only
employees that carry this platform's user id can be deactivated by its sync, so CSV-only people
and people of the other platform are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.directory_sync.changes import Change, Member, Roster, SyncReport, record_change
from core.directory_sync.leavers import ACTOR, deactivate
from core.directory_sync.matching import (
    Index,
    generated_id,
    load_all,
    load_for,
    platform_column,
    taken_ids,
)
from core.models import Account, Employee
from core.policy import Policy

DEPARTMENT_MAX = 100  # Employee.department column


@dataclass
class _Plan:
    platform: str
    creates: list[tuple[Member, str]] = field(default_factory=list)  # (member, new employee id)
    new_values: dict[str, dict[str, Any]] = field(default_factory=dict)  # by new employee id
    updates: list[tuple[Employee, dict[str, Any]]] = field(default_factory=list)
    leavers: list[Employee] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def department_path(names: Sequence[str]) -> str:
    """Names from the top down joined with "/"; a path too long for the column keeps its end."""
    path = "/".join(n for n in names if n)
    return path if len(path) <= DEPARTMENT_MAX else "…" + path[-(DEPARTMENT_MAX - 1):]


async def sync_directory(session: AsyncSession, *, roster: Roster, policy: Policy, now: datetime,
                         today: date, dry_run: bool = False, force: bool = False) -> SyncReport:
    """Bring the directory in line with ``roster``, a complete read of one platform.

    Refuses (changing nothing, ``report.refused`` says why) when the roster is empty, or when it
    would deactivate more than ``directory.max_deactivate_percent`` of the active employees and
    ``force`` is not set. ``dry_run`` lists the changes and writes nothing.
    """
    active = int(await session.scalar(
        select(func.count()).select_from(Employee).where(Employee.active.is_(True))) or 0)
    report = SyncReport(platform=roster.platform, dry_run=dry_run, active_before=active)
    if not roster.members:
        report.refused = (f"{roster.platform} returned no members: nothing changed "
                          "(an empty answer never deactivates anyone)")
        return report
    index = await load_all(session, roster.platform)
    # A platform that already has people here is in use: its newcomers are new hires today.
    hired_today = today if index.by_pid else None
    plan = await _plan(session, index, roster.members, hired_today=hired_today, leavers=True)
    report.changes = plan.changes
    report.refused = _guard(len(plan.leavers), active, policy, force)
    if not dry_run and report.refused is None:
        await _apply(session, plan, now=now, policy=policy)
        report.applied = True
    return report


def _guard(leaving: int, active: int, policy: Policy, force: bool) -> str | None:
    limit = policy.directory.max_deactivate_percent
    if force or leaving == 0 or active == 0 or leaving * 100 <= limit * active:
        return None
    share = leaving * 100 / active
    return (f"would deactivate {leaving} of {active} active employees ({share:.1f}% > "
            f"directory.max_deactivate_percent {limit:g}%): nothing changed; check the "
            "platform's visible range, or run again with --force")


async def apply_member(session: AsyncSession, *, platform: str, member: Member, policy: Policy,
                       now: datetime, today: date) -> list[Change]:
    """Create or update (and reactivate) one member, as a real-time event says."""
    index = await load_for(session, platform, [member])
    plan = await _plan(session, index, [member], hired_today=today, leavers=False)
    await _apply(session, plan, now=now, policy=policy)
    return plan.changes


async def rename_user(session: AsyncSession, *, platform: str, old: str, new: str) -> None:
    """The platform changed a member's user id (WeCom 变更 userid): keep the match."""
    col = platform_column(platform)
    await session.execute(update(Employee).where(col == old).values({col.key: new}))


async def remove_member(session: AsyncSession, *, platform: str, user_id: str, policy: Policy,
                        now: datetime) -> list[Change]:
    """Deactivate the employee holding ``user_id`` on ``platform`` (a leave event)."""
    emp = await session.scalar(select(Employee).where(platform_column(platform) == user_id)
                               .with_for_update())
    if emp is None or not emp.active:
        return []  # unknown or already gone: a redelivered leave changes nothing
    change = Change("deactivate", emp.employee_id, emp.name)
    await deactivate(session, employee=emp, now=now, policy=policy)
    await record_change(session, change, actor=ACTOR, now=now)
    return [change]


async def _plan(session: AsyncSession, index: Index, members: Sequence[Member], *,
                hired_today: date | None, leavers: bool) -> _Plan:
    plan = _Plan(index.platform)
    matched: list[tuple[Member, Employee | None]] = [(m, index.match(m)) for m in _unique(members)]
    await _new_ids(session, index, plan, [m for m, emp in matched if emp is None])
    by_user = {m.user_id: emp.employee_id for m, emp in matched if emp is not None}
    by_user.update({m.user_id: eid for m, eid in plan.creates})
    for member, emp in matched:
        wanted = _wanted(index, member, emp, by_user, hired_today)
        if emp is None:
            plan.new_values[by_user[member.user_id]] = wanted
            continue
        diff = {k: v for k, v in wanted.items() if getattr(emp, k) != v}
        if diff or not emp.active:
            plan.updates.append((emp, diff))
            plan.changes.append(Change(
                "update" if emp.active else "reactivate", emp.employee_id, wanted["name"],
                tuple((k, getattr(emp, k), v) for k, v in diff.items())))
    for member, eid in plan.creates:
        shown = ("department", "manager_id", "hire_date")
        plan.changes.append(Change("create", eid, member.name, tuple(
            (k, None, plan.new_values[eid][k]) for k in shown if plan.new_values[eid].get(k))))
    if leavers:
        col = platform_column(index.platform).key
        present = {m.user_id for m in members}
        plan.leavers = [e for pid, e in sorted(index.by_pid.items())
                        if e.active and pid not in present and getattr(e, col) == pid]
        plan.changes += [Change("deactivate", e.employee_id, e.name) for e in plan.leavers]
    return plan


def _unique(members: Sequence[Member]) -> list[Member]:
    seen: dict[str, Member] = {}
    for m in members:
        seen.setdefault(m.user_id, m)  # a member listed in several departments comes once
    return list(seen.values())


async def _new_ids(session: AsyncSession, index: Index, plan: _Plan,
                   members: Sequence[Member]) -> None:
    wanted = [generated_id(index.platform, m.user_id, set()) for m in members]
    taken = index.ids | await taken_ids(session, wanted)
    for member in members:
        eid = generated_id(index.platform, member.user_id, taken)
        taken.add(eid)
        plan.creates.append((member, eid))


def _wanted(index: Index, member: Member, emp: Employee | None, by_user: dict[str, str],
            hired_today: date | None) -> dict[str, Any]:
    """The synced fields as the platform has them; blanks the platform hides keep our value."""
    manager = by_user.get(member.manager_user_id or "")
    if manager is None and member.manager_user_id:
        boss = index.by_pid.get(member.manager_user_id)
        manager = boss.employee_id if boss is not None else (emp.manager_id if emp else None)
    values: dict[str, Any] = {
        "name": member.name[:100], "department": department_path([member.department]),
        "manager_id": manager if manager != (emp.employee_id if emp else None) else None,
        platform_column(index.platform).key: member.user_id,
    }
    # Newer WeCom corps hide mobile and e-mail from user/get unless the app may read them:
    # an absent value never erases one we have (from the CSV or the other platform).
    for key in ("mobile", "email"):
        if getattr(member, key):
            values[key] = getattr(member, key)
    hire = member.hire_date or (None if emp is not None else hired_today)
    if hire is not None:
        values["hire_date"] = hire
    return values


async def _apply(session: AsyncSession, plan: _Plan, *, now: datetime, policy: Policy) -> None:
    for emp, diff in plan.updates:
        for key, value in diff.items():
            setattr(emp, key, value)
        emp.active, emp.updated_at = True, now
    await session.flush()
    for _member, eid in plan.creates:
        # manager_id has no foreign key: a manager created in this same run may come later
        session.add(Employee(employee_id=eid, created_at=now, updated_at=now, active=True,
                             roles="", locale="zh", **plan.new_values[eid]))
        session.add(Account(code=f"emp:{eid}", kind="employee", employee_id=eid, balance=0))
    await session.flush()
    for leaver in plan.leavers:
        await deactivate(session, employee=leaver, now=now, policy=policy)
    for change in plan.changes:
        await record_change(session, change, actor=ACTOR, now=now)

