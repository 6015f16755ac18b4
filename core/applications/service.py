"""Points applications (积分申请): an employee asks for N points with a reason and evidence,
the chain ``approvals.chains.application`` decides, and an approval credits the points once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.approvals.finalizers import Outcome, register
from core.approvals.service import open_request
from core.directory.service import get_active
from core.idempotency import recall, remember
from core.ledger.service import credit
from core.models import Application
from core.policy import Policy

__all__ = ["ApplicationView", "apply", "finalize"]


@dataclass(frozen=True)
class ApplicationView:
    id: int
    amount: int
    status: str  # pending | approved | rejected
    approval_id: int | None

    @property
    def approval_public_id(self) -> str | None:
        return None if self.approval_id is None else f"A{self.approval_id}"


async def apply(
    session: AsyncSession, *, applicant_id: str, amount: int, reason: str, key: str,
    now: datetime, policy: Policy,
) -> ApplicationView:
    """File an application and open its approval; a repeated ``key`` returns the first one.

    Refusals (InvalidAmount, ReasonTooShort, UnknownEmployee, InactiveEmployee, NoApprover)
    change nothing.
    """
    idem = f"apply:{key}"
    if (done := await recall(session, idem)) is not None:
        return ApplicationView(**done)
    applicant = await get_active(session, applicant_id)
    if amount <= 0:
        raise errors.InvalidAmount(amount=amount)
    text = reason.strip()
    if len(" ".join(text.split())) < policy.award.min_reason_length:
        raise errors.ReasonTooShort(min=policy.award.min_reason_length)
    if len(text) > errors.MAX_REASON_LENGTH:
        raise errors.ReasonTooLong(max=errors.MAX_REASON_LENGTH, length=len(text))
    app = Application(applicant_id=applicant.employee_id, amount=amount, reason=text[:500],
                      status="pending", created_at=now)
    session.add(app)
    await session.flush()
    req = await open_request(session, kind="application", subject_id=str(app.id),
                             requester_id=applicant.employee_id, amount=amount, summary=text,
                             chain=list(policy.approvals.chains.application), now=now)
    app.approval_id = req.id
    await session.flush()
    view = ApplicationView(id=app.id, amount=amount, status=app.status, approval_id=req.id)
    await remember(session, idem, asdict(view), now=now)
    return view


async def finalize(
    session: AsyncSession, *, application_id: int, approved: bool, actor_id: str, now: datetime,
    policy: Policy,
) -> None:
    """End of the chain: approved → credit (key ``application:<id>``); rejected → just closed.
    A second call for a decided application changes nothing."""
    app = await session.scalar(select(Application).where(Application.id == application_id)
                               .execution_options(populate_existing=True))
    if app is None or app.status != "pending":
        return
    app.status = "approved" if approved else "rejected"
    if approved:
        await credit(session, employee_id=app.applicant_id, amount=app.amount,
                     key=f"application:{app.id}", kind="application", actor=actor_id,
                     reason=app.reason, now=now, policy=policy, ref=f"application:{app.id}")
    await session.flush()


async def _finalize_outcome(session: AsyncSession, outcome: Outcome) -> None:
    await finalize(session, application_id=int(outcome.subject_id), approved=outcome.approved,
                   actor_id=outcome.actor_id, now=outcome.now, policy=outcome.policy)


register("application", _finalize_outcome)
