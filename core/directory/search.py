"""Directory search for the HR console: by name, id or department."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Employee


async def search(session: AsyncSession, *, q: str = "", limit: int = 100) -> list[Employee]:
    """Employees whose name, id or department contains ``q`` (case-insensitive), by name."""
    stmt = select(Employee).order_by(Employee.active.desc(), Employee.name,
                                     Employee.employee_id).limit(limit)
    text = q.strip()
    if text:
        like = f"%{text.lower()}%"
        stmt = stmt.where(or_(Employee.name.ilike(like), Employee.employee_id.ilike(like),
                              Employee.department.ilike(like)))
    return list(await session.scalars(stmt))
