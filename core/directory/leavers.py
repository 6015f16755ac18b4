"""What happens when someone leaves: deactivated (never deleted), their balance kept or
expired (``directory.leaver_balance``), approvals waiting on them handed to their manager,
else HR. Their own open orders and requests stay as they are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.approvals.routing import active_manager, notify_approvers
from core.models import ApprovalRequest, ApprovalStep, Employee
from core.policy import Policy

ACTOR = "directory-sync"


async def deactivate(session: AsyncSession, *, employee: Employee, now: datetime,
                     policy: Policy) -> None:
    """Deactivate a leaver and settle what depends on them, in the caller's transaction."""
    employee.active, employee.updated_at = False, now
    await session.flush()
    if policy.directory.leaver_balance == "expire":
        await _expire_balance(session, employee, now)
    await reassign_approvals(session, leaver=employee, now=now)


async def _expire_balance(session: AsyncSession, employee: Employee, now: datetime) -> None:
    # lock first: a spend racing the departure must not make the debit below fail
    await ledger.employee_account(session, employee.employee_id, lock=True)
    left = (await ledger.balance(session, employee_id=employee.employee_id, now=now)).balance
    if left <= 0:
        return
    # One key per departure: a rejoin and a second departure expire what was earned meanwhile.
    await ledger.debit(session, employee_id=employee.employee_id, amount=left, to="expired",
                       key=f"directory:leaver:{employee.employee_id}:{now.isoformat()}",
                       kind="leaver_expiry", actor=ACTOR, reason="left the company", now=now)


async def reassign_approvals(session: AsyncSession, *, leaver: Employee, now: datetime) -> int:
    """Hand every open step assigned to ``leaver`` to their active manager, else to HR; the
    new approver of a step that is waiting right now gets the approval card. Returns the count."""
    rows = await session.execute(
        select(ApprovalStep, ApprovalRequest)
        .join(ApprovalRequest, ApprovalRequest.id == ApprovalStep.request_id)
        .where(ApprovalStep.approver_id == leaver.employee_id,
               ApprovalStep.status.in_(("pending", "waiting")),
               ApprovalRequest.status == "pending")
        .order_by(ApprovalStep.id).with_for_update())
    moved = 0
    for step, req in rows.tuples():
        boss = await active_manager(session, leaver.employee_id)
        if boss is not None and boss.employee_id != req.requester_id:
            step.approver_id, step.approver_role = boss.employee_id, None
        else:
            step.approver_id, step.approver_role = None, "hr"
        await session.flush()
        if step.status == "pending":
            await notify_approvers(
                session, req=req, step=step, kind="approval_reassigned", now=now,
                dedupe=f"approval-reassign:{step.id}:{leaver.employee_id}",
                extra={"reassigned_from_name": leaver.name})
        moved += 1
    return moved
