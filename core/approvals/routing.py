"""Who may decide a step, who is told about it, and the notification payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.directory.service import department_if_shared, role_holders
from core.models import ApprovalRequest, ApprovalStep, Employee
from core.outbox import push


async def active_manager(session: AsyncSession, employee_id: str) -> Employee | None:
    """The employee's manager if there is one, active, and not the employee themself."""
    emp = await session.get(Employee, employee_id)
    if emp is None or not emp.manager_id or emp.manager_id == employee_id:
        return None
    manager = await session.get(Employee, emp.manager_id)
    return manager if manager is not None and manager.active else None


async def approvers_of(session: AsyncSession, step: ApprovalStep) -> list[Employee]:
    """The people a step's pushes go to: its person, or every active holder of its role.

    A role nobody holds falls to the admins, who may decide any step.
    """
    if step.approver_id is not None:
        emp = await session.get(Employee, step.approver_id)
        return [emp] if emp is not None and emp.active else []
    role = step.approver_role or "admin"
    return await role_holders(session, role) or await role_holders(session, "admin")


async def ensure_decidable(session: AsyncSession, step: ApprovalStep, requester_id: str) -> None:
    """Refuse (NoApprover) a step nobody but the requester could ever decide."""
    people = [e for e in await approvers_of(session, step) if e.employee_id != requester_id]
    admins = [e for e in await role_holders(session, "admin") if e.employee_id != requester_id]
    if not people and not admins:
        raise errors.NoApprover(role=step.approver_role or step.role)


def may_decide(step: ApprovalStep, actor: Employee, requester_id: str) -> bool:
    """Current approver (person or role), the person it was escalated away from, or an admin.

    Nobody decides their own request, admins included: separation of duties for the audit.
    """
    if not actor.active or actor.employee_id == requester_id:
        return False
    roles = actor.role_set
    if "admin" in roles:
        return True
    if step.approver_id is not None:
        holds = step.approver_id == actor.employee_id
    else:
        holds = step.approver_role in roles
    # Escalation adds an approver; whoever had the step (person or role) may still decide it.
    return holds or step.escalated_from in {actor.employee_id, *(f"role:{r}" for r in roles)}


async def request_payload(session: AsyncSession, req: ApprovalRequest) -> dict[str, Any]:
    requester = await session.get(Employee, req.requester_id)
    shared = await department_if_shared(session, requester) if requester else None
    return {
        "approval_id": req.public_id, "kind": req.kind, "subject_id": req.subject_id,
        "requester_id": req.requester_id, "requester_name": requester.name if requester else "",
        "amount": req.amount, "summary": req.summary, "step": req.current_step,
    } | ({"requester_department": shared} if shared else {})


async def notify_approvers(
    session: AsyncSession, *, req: ApprovalRequest, step: ApprovalStep, kind: str, dedupe: str,
    now: datetime, extra: dict[str, Any] | None = None,
) -> int:
    """Push ``kind`` to everyone who can decide ``step`` (not the requester); returns how many."""
    payload = await request_payload(session, req) | (extra or {})
    people = [e for e in await approvers_of(session, step) if e.employee_id != req.requester_id]
    for emp in people:
        await push(session, employee_id=emp.employee_id, kind=kind, payload=payload, now=now,
                   dedupe_key=f"{dedupe}:{emp.employee_id}")
    return len(people)


async def name_of(session: AsyncSession, employee_id: str | None) -> str:
    if employee_id is None:
        return ""
    emp = await session.get(Employee, employee_id)
    return emp.name if emp is not None else employee_id
