"""Directory lookups and resolution of ``<who>`` (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.models import Employee


@dataclass(frozen=True)
class Candidate:
    employee_id: str
    name: str
    department: str


async def get(session: AsyncSession, employee_id: str) -> Employee:
    """The employee or UnknownEmployee."""
    emp = await session.get(Employee, employee_id)
    if emp is None:
        raise errors.UnknownEmployee(who=employee_id)
    return emp


async def get_active(session: AsyncSession, employee_id: str) -> Employee:
    emp = await get(session, employee_id)
    if not emp.active:
        raise errors.InactiveEmployee(who=emp.name)
    return emp


async def has_reports(session: AsyncSession, employee_id: str) -> bool:
    return bool(await session.scalar(
        select(exists().where(Employee.manager_id == employee_id, Employee.active.is_(True)))
    ))


async def roles_of(session: AsyncSession, emp: Employee) -> set[str]:
    """Declared roles plus ``employee`` for everyone and ``manager`` for anyone with reports."""
    roles = emp.role_set
    if await has_reports(session, emp.employee_id):
        roles.add("manager")
    return roles


async def by_platform_id(session: AsyncSession, *, platform: str, user_id: str) -> Employee | None:
    column = {"wecom": Employee.wecom_userid, "dingtalk": Employee.dingtalk_userid}[platform]
    return await session.scalar(select(Employee).where(column == user_id))


async def resolve(session: AsyncSession, who: str) -> Employee:
    """Find one employee by id, WeCom/DingTalk user id or exact name (a leading @ is ignored).

    A name shared by several people raises AmbiguousName with the candidates; nothing is guessed.
    """
    token = who.strip().lstrip("@＠").strip()
    if not token:
        raise errors.UnknownEmployee(who=who)
    by_id = await session.get(Employee, token)
    if by_id is not None:
        return by_id
    by_platform = await session.scalar(select(Employee).where(
        or_(Employee.wecom_userid == token, Employee.dingtalk_userid == token)))
    if by_platform is not None:
        return by_platform
    named = list(await session.scalars(
        select(Employee).where(Employee.name == token).order_by(Employee.active.desc(),
                                                                Employee.employee_id)))
    active = [e for e in named if e.active] or named
    if len(active) == 1:
        return active[0]
    if len(active) > 1:
        raise errors.AmbiguousName(
            who=token,
            candidates=[Candidate(e.employee_id, e.name, e.department) for e in active],
        )
    raise errors.UnknownEmployee(who=token)
