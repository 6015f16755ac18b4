"""Who may run HR actions (grant, deduct, fulfil, broadcast, report): decided here, from the
actor's roles in the directory, whatever surface (chat, CLI, API) the request came from."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.directory import service as directory
from core.models import Employee

OPERATORS = frozenset({"cli", "api"})  # the shell and the admin API are trusted operators
HR_ROLES = frozenset({"hr", "admin"})


async def authorize_hr(session: AsyncSession, actor_id: str, action: str) -> str:
    """The actor's display name, or Forbidden unless an operator or an active HR / admin."""
    if actor_id in OPERATORS:
        return actor_id
    emp = await session.get(Employee, actor_id)
    if emp is None or not emp.active or not (await directory.roles_of(session, emp)) & HR_ROLES:
        raise errors.Forbidden(action=action, actor=actor_id)
    return emp.name
