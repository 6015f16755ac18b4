"""申诉 (appeals): an employee contests a deduction or a rejected award or application.

The appeal is an approval request of kind ``appeal`` (chain ``approvals.chains.appeal``,
default HR). Approval reverses what it names as a new transaction: a deduction is refunded to
the lots it came from (``system:adjustment`` → employee), a rejected award is re-opened and
paid (its allowance counted again in its own month), a rejected application is paid. Rejection
changes nothing. Either way the approvals service tells the appellant (``approval_decided``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.approvals.finalizers import Outcome, register
from core.approvals.service import open_request
from core.audit.service import record as audit
from core.awards.service import pay as pay_award
from core.directory.service import get_active
from core.idempotency import recall, remember
from core.ledger.service import credit, refund
from core.models import (
    Account,
    Appeal,
    Application,
    ApprovalRequest,
    Award,
    LedgerTransaction,
)
from core.policy import Policy

__all__ = ["AppealView", "Subject", "appeal", "finalize", "owner_of", "parse_subject"]

_SUBJECT = re.compile(r"([TtAaZz]?)(\d{1,9})", re.ASCII)


@dataclass(frozen=True)
class Subject:
    kind: str  # deduction | award | application
    id: int
    amount: int
    label: str  # as people type it: T12 (a deduction), Z12 (an award), A12 (an approval)


@dataclass(frozen=True)
class AppealView:
    id: int
    subject: str
    amount: int
    status: str
    approval_id: int

    @property
    def approval_public_id(self) -> str:
        return f"A{self.approval_id}"


def parse_subject(text: str) -> tuple[str, int]:
    """``T12`` (ledger transaction), ``A12`` (approval), ``Z12`` or ``12`` (award) →
    (letter, number); anything else UnknownAppealSubject."""
    match = _SUBJECT.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None or int(match[2]) == 0:
        raise errors.UnknownAppealSubject(id=text)
    return (match[1] or "Z").upper(), int(match[2])


async def appeal(
    session: AsyncSession, *, appellant_id: str, subject: str, reason: str, key: str,
    now: datetime, policy: Policy,
) -> AppealView:
    """File an appeal and open its approval. Refusals (UnknownEmployee, InactiveEmployee,
    ReasonTooShort, UnknownAppealSubject, NotAppealable, AlreadyAppealed, NoApprover) change
    nothing; a repeated ``key`` returns the first appeal."""
    if (done := await recall(session, f"appeal:{key}")) is not None:
        return AppealView(**done)
    person = await get_active(session, appellant_id)
    text = " ".join(reason.split())
    if len(text) < policy.award.min_reason_length:
        raise errors.ReasonTooShort(min=policy.award.min_reason_length)
    target = await _resolve(session, person.employee_id, subject)
    if await session.scalar(select(Appeal.id).where(Appeal.subject_kind == target.kind,
                                                     Appeal.subject_id == target.id)):
        raise errors.AlreadyAppealed(id=target.label)
    row = Appeal(appellant_id=person.employee_id, subject_kind=target.kind, subject_id=target.id,
                 amount=target.amount, reason=text[:500], status="pending", created_at=now)
    session.add(row)
    await session.flush()
    req = await open_request(session, kind="appeal", subject_id=str(row.id),
                             requester_id=person.employee_id, amount=target.amount,
                             summary=f"{target.label} {text}", chain=list(policy.approvals.chains.appeal),
                             now=now)
    row.approval_id = req.id
    await session.flush()
    view = AppealView(row.id, target.label, target.amount, row.status, req.id)
    await remember(session, f"appeal:{key}", asdict(view), now=now)
    return view


async def _resolve(session: AsyncSession, appellant_id: str, text: str) -> Subject:
    letter, number = parse_subject(text)
    if letter == "T":
        return await _deduction(session, appellant_id, number, text)
    if letter == "Z":
        return await _award(session, appellant_id, number, text)
    req = await session.get(ApprovalRequest, number)
    if req is None or req.kind not in ("award", "application") or not req.subject_id.isdigit():
        raise errors.UnknownAppealSubject(id=text)
    if req.kind == "award":
        return await _award(session, appellant_id, int(req.subject_id), text)
    return await _application(session, appellant_id, int(req.subject_id), text)


async def _deduction(session: AsyncSession, appellant_id: str, tx_id: int, text: str) -> Subject:
    tx = await session.get(LedgerTransaction, tx_id)
    if tx is None or tx.kind != "deduct":
        raise errors.UnknownAppealSubject(id=text)
    mine = [e for e in tx.entries if e.amount < 0 and e.lot_id is not None]
    acc = await session.get(Account, mine[0].account_id) if mine else None
    if acc is None or acc.employee_id != appellant_id:
        raise errors.UnknownAppealSubject(id=text)  # never confirm someone else's deduction
    return Subject("deduction", tx.id, -sum(e.amount for e in mine), f"T{tx.id}")


async def _award(session: AsyncSession, appellant_id: str, award_id: int, text: str) -> Subject:
    award = await session.get(Award, award_id)
    if award is None or appellant_id not in (award.giver_id, award.recipient_id):
        raise errors.UnknownAppealSubject(id=text)
    if award.status != "rejected":
        raise errors.NotAppealable(id=f"Z{award.id}", status=award.status)
    return Subject("award", award.id, award.amount, f"Z{award.id}")


async def _application(session: AsyncSession, appellant_id: str, app_id: int, text: str) -> Subject:
    app = await session.get(Application, app_id)
    if app is None or app.applicant_id != appellant_id:
        raise errors.UnknownAppealSubject(id=text)
    if app.status != "rejected":
        raise errors.NotAppealable(id=text, status=app.status)
    return Subject("application", app.id, app.amount, text.strip().upper())


async def owner_of(session: AsyncSession, appeal_id: int) -> str | None:
    """Whose account an approved appeal credits (locked first by the approvals service)."""
    row = await session.get(Appeal, appeal_id)
    if row is None:
        return None
    if row.subject_kind == "award":
        award = await session.get(Award, row.subject_id)
        return award.recipient_id if award is not None else None
    return row.appellant_id


async def finalize(
    session: AsyncSession, *, appeal_id: int, approved: bool, actor_id: str, now: datetime,
    policy: Policy,
) -> None:
    """End of the appeal's chain. A second call for a decided appeal changes nothing."""
    row = await session.scalar(select(Appeal).where(Appeal.id == appeal_id)
                               .execution_options(populate_existing=True))
    if row is None or row.status != "pending":
        return
    row.status = "approved" if approved else "rejected"
    await audit(session, actor=actor_id, action=f"appeal.{row.status}", subject=f"appeal:{row.id}",
                now=now, before={"status": "pending"},
                after={"status": row.status, "subject": f"{row.subject_kind}:{row.subject_id}"})
    await session.flush()
    if not approved:
        return
    if row.subject_kind == "deduction":
        await _reverse_deduction(session, row, actor_id, now, policy)
    elif row.subject_kind == "award":
        await _reopen_award(session, row.subject_id, now, policy)
    else:
        await _pay_application(session, row.subject_id, actor_id, now, policy)


async def _reverse_deduction(
    session: AsyncSession, row: Appeal, actor_id: str, now: datetime, policy: Policy,
) -> None:
    original = await session.get(LedgerTransaction, row.subject_id)
    assert original is not None
    await refund(session, original_key=original.idempotency_key, key=f"appeal:{row.id}",
                 actor=actor_id, reason=f"申诉 {row.reason}", now=now, policy=policy,
                 source="adjustment")


async def _reopen_award(session: AsyncSession, award_id: int, now: datetime, policy: Policy) -> None:
    award = await session.scalar(select(Award).where(Award.id == award_id)
                                 .execution_options(populate_existing=True))
    if award is None or award.status != "rejected":
        return
    award.status = "pending"
    await pay_award(session, award, now, policy)


async def _pay_application(
    session: AsyncSession, app_id: int, actor_id: str, now: datetime, policy: Policy,
) -> None:
    app = await session.scalar(select(Application).where(Application.id == app_id)
                               .execution_options(populate_existing=True))
    if app is None or app.status != "rejected":
        return
    app.status = "approved"
    await credit(session, employee_id=app.applicant_id, amount=app.amount,
                 key=f"application:{app.id}", kind="application", actor=actor_id,
                 reason=app.reason, now=now, policy=policy, ref=f"application:{app.id}")
    await session.flush()


async def _finalize_outcome(session: AsyncSession, outcome: Outcome) -> None:
    await finalize(session, appeal_id=int(outcome.subject_id), approved=outcome.approved,
                   actor_id=outcome.actor_id, now=outcome.now, policy=outcome.policy)


async def _owner(session: AsyncSession, subject_id: str) -> str | None:
    return await owner_of(session, int(subject_id)) if subject_id.isdigit() else None


register("appeal", _finalize_outcome, owner=_owner)
