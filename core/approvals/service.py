"""Approval requests: open a chain, decide its steps, list what waits for someone.

Authorization comes only from ``actor_id`` (the platform's authenticated user), never from a
button payload. The first decision wins: the request row is locked before its state is checked,
so a double click or a second approver gets AlreadyDecided naming whoever decided first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.approvals.finalizers import Outcome, finalizer
from core.approvals.reminders import remind_and_escalate
from core.approvals.routing import (
    active_manager,
    ensure_decidable,
    may_decide,
    name_of,
    notify_approvers,
    request_payload,
)
from core.approvals.schemas import Decision, ReminderResult
from core.audit.service import record as audit
from core.directory.service import get as get_employee
from core.ledger.service import employee_account
from core.models import ApprovalRequest, ApprovalStep, Employee
from core.outbox import card_refs, push
from core.policy import Policy

__all__ = [
    "Decision", "ReminderResult", "cancel", "decide", "get_request", "open_request",
    "parse_approval_id", "pending_for", "remind_and_escalate",
]

KINDS = ("award", "application", "redemption", "appeal")
_PUBLIC_ID = re.compile(r"[#]?\s*[Aa]?\s*(\d{1,9})", re.ASCII)


def parse_approval_id(text: str | int) -> int:
    """``A12``, ``a12``, ``Ａ１２`` (full width), ``12`` or 12 → 12; anything else UnknownApproval."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text > 0:
            return text
        raise errors.UnknownApproval(id=str(text))
    match = _PUBLIC_ID.fullmatch(unicodedata.normalize("NFKC", str(text)).strip())
    if match is None or int(match.group(1)) == 0:
        raise errors.UnknownApproval(id=str(text))
    return int(match.group(1))


async def get_request(session: AsyncSession, approval_id: str | int) -> ApprovalRequest:
    """The request (steps loaded) or UnknownApproval."""
    req = await session.get(ApprovalRequest, parse_approval_id(approval_id))
    if req is None:
        raise errors.UnknownApproval(id=str(approval_id))
    return req


async def _plan_steps(
    session: AsyncSession, requester_id: str, chain: Sequence[str]
) -> list[ApprovalStep]:
    manager = await active_manager(session, requester_id)
    steps: list[ApprovalStep] = []
    for role in chain:
        person = manager.employee_id if role == "manager" and manager is not None else None
        approver_role = None if person is not None else ("hr" if role == "manager" else role)
        if steps and (steps[-1].approver_id, steps[-1].approver_role) == (person, approver_role):
            continue  # a manager step that fell to HR just before an HR step would ask HR twice
        steps.append(ApprovalStep(seq=len(steps), role=role, approver_id=person,
                                  approver_role=approver_role, status="waiting"))
    return steps


async def open_request(
    session: AsyncSession, *, kind: str, subject_id: str, requester_id: str, amount: int,
    summary: str, chain: Sequence[str], now: datetime,
) -> ApprovalRequest:
    """Create a request whose steps follow ``chain`` and push it to the first approver(s).

    A ``manager`` step goes to the requester's active manager, or to any HR without one.
    Raises NoApprover (changing nothing) if some step could only be decided by the requester.
    """
    if kind not in KINDS or not chain:
        raise ValueError(f"bad approval request {kind} {chain}")
    await get_employee(session, requester_id)
    steps = await _plan_steps(session, requester_id, chain)
    for step in steps:
        await ensure_decidable(session, step, requester_id)
    steps[0].status, steps[0].activated_at = "pending", now
    req = ApprovalRequest(kind=kind, subject_id=str(subject_id), requester_id=requester_id,
                          amount=amount, summary=summary[:500], status="pending", current_step=0,
                          created_at=now, steps=steps)
    session.add(req)
    await session.flush()
    await notify_approvers(session, req=req, step=steps[0], kind="approval_request",
                           dedupe=f"approval-request:{req.id}:0", now=now)
    return req


async def pending_for(session: AsyncSession, *, employee_id: str) -> list[ApprovalRequest]:
    """Pending requests whose current step this employee may decide (admins: all but their own)."""
    actor = await session.get(Employee, employee_id)
    if actor is None:
        return []
    rows = await session.execute(
        select(ApprovalRequest, ApprovalStep)
        .join(ApprovalStep, and_(ApprovalStep.request_id == ApprovalRequest.id,
                                 ApprovalStep.seq == ApprovalRequest.current_step))
        .where(ApprovalRequest.status == "pending", ApprovalStep.status == "pending")
        .order_by(ApprovalRequest.id)
    )
    return [req for req, step in rows if may_decide(step, actor, req.requester_id)]


async def _lock_owner_account(session: AsyncSession, req: ApprovalRequest) -> None:
    # Lock order (accounts before approval rows): finalizers credit or refund this account.
    owner_of = finalizer(req.kind).owner
    owner = (await owner_of(session, req.subject_id) if owner_of is not None else None)
    await employee_account(session, owner or req.requester_id, lock=True)


async def _locked(session: AsyncSession, request_id: int) -> tuple[ApprovalRequest, list[ApprovalStep]]:
    req = await session.scalar(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    assert req is not None
    steps = await session.scalars(
        select(ApprovalStep).where(ApprovalStep.request_id == request_id).order_by(ApprovalStep.seq)
        .execution_options(populate_existing=True)
    )
    return req, list(steps)


async def _already(session: AsyncSession, step: ApprovalStep) -> errors.CoreError:
    return errors.AlreadyDecided(by=await name_of(session, step.decided_by), status=step.status)


async def _authorize(
    session: AsyncSession, req: ApprovalRequest, steps: list[ApprovalStep], actor_id: str,
    step: int | None,
) -> Employee:
    """Refuse anyone but the current approver; a repeat of one's own earlier click is AlreadyDecided."""
    decided = [s for s in steps if s.decided_by is not None]
    if req.status != "pending":
        if not decided:  # cancelled by its subject (e.g. the order was withdrawn)
            raise errors.AlreadyDecided(by="", status=req.status)
        raise await _already(session, decided[-1])
    if step is not None and 0 <= step < req.current_step:
        raise await _already(session, steps[step])
    actor = await session.get(Employee, actor_id)
    if actor is not None and step in (None, req.current_step) and may_decide(
            steps[req.current_step], actor, req.requester_id):
        return actor
    mine = [s for s in decided if s.decided_by == actor_id]
    if mine:
        raise await _already(session, mine[-1])
    raise errors.NotApprover(id=req.public_id)


async def decide(
    session: AsyncSession, *, approval_id: str | int, actor_id: str, approve: bool,
    comment: str | None, now: datetime, policy: Policy, step: int | None = None,
) -> Decision:
    """Approve or reject the current step as ``actor_id``; the last approval or any rejection
    closes the request and runs the kind's finalizer in this transaction.

    ``step`` (optional, from a button) pins the step the click was meant for, so an admin's
    double click on a multi-step chain cannot approve two steps.
    """
    request_id = parse_approval_id(approval_id)
    found = await session.get(ApprovalRequest, request_id)
    if found is None:
        raise errors.UnknownApproval(id=str(approval_id))
    await _lock_owner_account(session, found)
    req, steps = await _locked(session, request_id)
    actor = await _authorize(session, req, steps, actor_id, step)
    current = steps[req.current_step]
    current.status = "approved" if approve else "rejected"
    current.decided_by, current.decided_at = actor_id, now
    current.comment = comment[:500] if comment else None
    final = not approve or req.current_step == len(steps) - 1
    if final:
        await _close(session, req, steps, approve, actor_id, comment, now, policy)
    else:
        await _advance(session, req, steps, now)
    await _audit_decision(session, req, current, actor_id, now)
    await session.flush()
    return Decision(req.id, req.public_id, req.kind, req.subject_id, req.requester_id, req.amount,
                    req.status, final, actor.name, current.comment, req.summary)


async def _audit_decision(
    session: AsyncSession, req: ApprovalRequest, step: ApprovalStep, actor_id: str, now: datetime,
) -> None:
    """Every decision — from chat buttons, the console or the API — in the audit log, written in
    the decision's own transaction (a refused or rolled-back click leaves no entry)."""
    await audit(session, actor=actor_id, action=f"approval.{step.status}",
                subject=f"approval:{req.public_id}", now=now,
                before={"status": "pending", "step": step.seq},
                after={"status": step.status, "step": step.seq, "request_status": req.status,
                       "kind": req.kind, "subject": req.subject_id, "amount": req.amount,
                       "comment": step.comment})


async def _advance(
    session: AsyncSession, req: ApprovalRequest, steps: list[ApprovalStep], now: datetime
) -> None:
    req.current_step += 1
    nxt = steps[req.current_step]
    nxt.status, nxt.activated_at = "pending", now
    await session.flush()
    await notify_approvers(session, req=req, step=nxt, kind="approval_request",
                           dedupe=f"approval-request:{req.id}:{nxt.seq}", now=now)


async def _close(
    session: AsyncSession, req: ApprovalRequest, steps: list[ApprovalStep], approved: bool,
    actor_id: str, comment: str | None, now: datetime, policy: Policy,
) -> None:
    req.status, req.decided_at = ("approved" if approved else "rejected"), now
    for later in steps[req.current_step + 1:]:
        later.status = "skipped"
    await session.flush()
    await _finalize(session, req, approved, actor_id, comment, now, policy)
    payload = await request_payload(session, req) | {
        "status": req.status, "decided_by_name": await name_of(session, actor_id),
        "comment": comment}
    await push(session, employee_id=req.requester_id, kind="approval_decided", payload=payload,
               now=now, dedupe_key=f"approval-decided:{req.id}")
    # every approver's delivered copy shows the outcome, queued with the decision itself
    await card_refs.queue_updates(session, ref=card_refs.approval_ref(req.public_id),
                                  render="approval_decided", data=payload, now=now)


async def _finalize(
    session: AsyncSession, req: ApprovalRequest, approved: bool, actor_id: str,
    comment: str | None, now: datetime, policy: Policy,
) -> None:
    outcome = Outcome(subject_id=req.subject_id, approved=approved, actor_id=actor_id,
                      comment=comment, now=now, policy=policy)
    await finalizer(req.kind).finalize(session, outcome)


async def cancel(session: AsyncSession, *, approval_id: str | int, now: datetime) -> bool:
    """Withdraw a pending request because its subject went away (no finalizer, no push).

    Returns False if it was already closed. Callers hold the subject's own locks first.
    """
    req, steps = await _locked(session, (await get_request(session, approval_id)).id)
    if req.status != "pending":
        return False
    req.status, req.decided_at = "cancelled", now
    for open_step in steps[req.current_step:]:
        open_step.status = "skipped"
    await session.flush()
    return True
