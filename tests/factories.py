"""Small builders for test data, going through the real models."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Employee


async def add_employee(
    session: AsyncSession, employee_id: str, name: str | None = None, *, department: str = "研发部",
    manager_id: str | None = None, roles: str = "", wecom: str | None = None,
    dingtalk: str | None = None, hire_date: date | None = None, birthday: str | None = None,
    active: bool = True, locale: str = "zh",
) -> Employee:
    emp = Employee(employee_id=employee_id, name=name or employee_id, department=department,
                   manager_id=manager_id, roles=roles, wecom_userid=wecom, dingtalk_userid=dingtalk,
                   hire_date=hire_date, birthday=birthday, active=active, locale=locale)
    session.add(emp)
    await session.flush()
    return emp
