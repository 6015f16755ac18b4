"""Reminding and escalating approval steps that wait too long (the approval-reminders job)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.approvals.routing import active_manager, name_of, notify_approvers
from core.approvals.schemas import ReminderResult
from core.directory.service import role_holders
from core.models import ApprovalRequest, ApprovalStep
from core.policy import Policy


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


async def _due(
    session: AsyncSession, mark: InstrumentedAttribute[datetime | None], before: datetime
) -> list[int]:
    rows = await session.scalars(
        select(ApprovalStep.id)
        .join(ApprovalRequest, ApprovalRequest.id == ApprovalStep.request_id)
        .where(ApprovalRequest.status == "pending", ApprovalStep.status == "pending",
               ApprovalStep.activated_at <= before, mark.is_(None))
        .order_by(ApprovalStep.id)
    )
    return list(rows)


async def _claim(session: AsyncSession, step_id: int) -> tuple[ApprovalRequest, ApprovalStep] | None:
    """Lock the step's request, skipping one a decision holds right now, and re-read both."""
    request_id = await session.scalar(
        select(ApprovalStep.request_id).where(ApprovalStep.id == step_id))
    req = await session.scalar(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    step = await session.scalar(
        select(ApprovalStep).where(ApprovalStep.id == step_id)
        .execution_options(populate_existing=True))
    if req is None or step is None or req.status != "pending" or step.status != "pending":
        return None
    return req, step


async def _remind(session: AsyncSession, step_id: int, now: datetime) -> bool:
    claimed = await _claim(session, step_id)
    if claimed is None or claimed[1].reminded_at is not None:
        return False
    req, step = claimed
    await notify_approvers(session, req=req, step=step, kind="approval_reminder",
                           dedupe=f"approval-remind:{step.id}", now=now,
                           extra={"waiting_since": _iso(step.activated_at)})
    step.reminded_at = now
    return True


async def _new_approver(
    session: AsyncSession, req: ApprovalRequest, step: ApprovalStep
) -> tuple[str | None, str | None]:
    """(approver_id, approver_role) after escalation; unchanged when nobody else could take it."""
    if step.approver_id is not None:
        boss = await active_manager(session, step.approver_id)
        if boss is not None and boss.employee_id != req.requester_id:
            return boss.employee_id, None
    admins = [e for e in await role_holders(session, "admin") if e.employee_id != req.requester_id]
    if admins:
        return None, "admin"
    return step.approver_id, step.approver_role


async def _escalate(session: AsyncSession, step_id: int, now: datetime) -> bool:
    """Hand the step to the approver's own active manager, else to the admins (any admin).

    Role steps (HR) and people without a manager go to the admins; an admin step stays where it
    is and is only re-announced. The previous holder keeps the right to decide (escalation adds
    an approver, so an old card still works) and is recorded in ``escalated_from``.
    """
    claimed = await _claim(session, step_id)
    if claimed is None or claimed[1].escalated_at is not None:
        return False
    req, step = claimed
    old = step.approver_id or f"role:{step.approver_role}"
    step.approver_id, step.approver_role = await _new_approver(session, req, step)
    step.escalated_from, step.escalated_at = old, now
    await session.flush()
    extra: dict[str, Any] = {"escalated_from": old, "escalated_from_name": await name_of(
        session, None if old.startswith("role:") else old), "waiting_since": _iso(step.activated_at)}
    await notify_approvers(session, req=req, step=step, kind="approval_escalated",
                           dedupe=f"approval-escalate:{step.id}", now=now, extra=extra)
    return True


async def remind_and_escalate(session: AsyncSession, *, now: datetime, policy: Policy) -> ReminderResult:
    """Remind pending steps older than ``remind_after_hours`` and escalate those older than
    ``escalate_after_hours``. ``reminded_at`` / ``escalated_at`` make each happen at most once per
    step however often the job runs (the outbox dedupe keys are a second guard)."""
    rules = policy.approvals
    reminded = escalated = 0
    for step_id in await _due(session, ApprovalStep.reminded_at,
                              now - timedelta(hours=rules.remind_after_hours)):
        reminded += await _remind(session, step_id, now)
    for step_id in await _due(session, ApprovalStep.escalated_at,
                              now - timedelta(hours=rules.escalate_after_hours)):
        escalated += await _escalate(session, step_id, now)
    await session.flush()
    return ReminderResult(reminded=reminded, escalated=escalated)
