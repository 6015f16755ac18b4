"""Taking an award back: 撤回 (undo, by its giver, briefly) and 撤销 (revoke, by HR, any time).

Both are new reversing transactions (the ledger is append-only) from the recipient back to
``system:issuance``, taken from the award's own lot first, and both return the giver's
allowance. A pending award has paid nothing yet: taking it back withdraws its approval request.
Lock order is the one approvals use: the recipient's account, then the award, then the request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.access import authorize_hr
from core.approvals.service import cancel as cancel_request
from core.audit.service import record as audit
from core.awards.join import get_award
from core.awards.schemas import ReversalResult
from core.awards.service import LIVE_AWARDS
from core.directory.service import get as get_employee
from core.idempotency import recall, remember
from core.ledger.service import balance, debit, employee_account, find_transaction
from core.models import AllowanceUse, Award, Lot
from core.outbox import push
from core.policy import Policy

__all__ = ["revoke", "undo"]

async def undo(
    session: AsyncSession, *, actor_id: str, award_id: str | int, now: datetime, policy: Policy,
) -> ReversalResult:
    """撤回: the giver takes their award back within ``award.undo_minutes`` of its payment (of its
    giving, while pending), only while the recipient still holds that award's points untouched.

    Refusals (UnknownAward, NotYourAward, BadAwardState, UndoExpired, PointsSpent) change
    nothing; a repeat by the giver returns the first result.
    """
    found = await get_award(session, award_id)
    if actor_id != found.giver_id:
        raise errors.NotYourAward(id=f"Z{found.id}")
    await employee_account(session, found.recipient_id, lock=True)
    award = await get_award(session, found.id, lock=True)
    if (done := await recall(session, f"undo:{award.id}")) is not None:
        return ReversalResult(**done)
    _check_live(award)
    paid = await find_transaction(session, f"award:{award.id}")
    since = paid.created_at if paid is not None else award.created_at
    if not policy.award.undo_minutes or now - since > timedelta(minutes=policy.award.undo_minutes):
        raise errors.UndoExpired(minutes=policy.award.undo_minutes)
    reversed_ = 0
    if paid is not None:
        lot = await _award_lot(session, paid.id)
        if lot.remaining < award.amount or lot.expires_at <= now:
            raise errors.PointsSpent(id=f"Z{award.id}", left=lot.remaining, need=award.amount)
        await debit(session, employee_id=award.recipient_id, amount=award.amount,
                    key=f"award-undo:{award.id}", kind="award_undo", actor=actor_id,
                    reason=award.reason, now=now, to="issuance", ref=f"award:{award.id}",
                    first_lot=lot.id)
        reversed_ = award.amount
    result = await _close(session, award, "undone", reversed_, now)
    await remember(session, f"undo:{award.id}", result.to_dict(), now=now)
    if reversed_:
        await push(session, employee_id=award.recipient_id, kind="award_undone", now=now,
                   dedupe_key=f"award-undone:{award.id}", payload=_payload(result, award))
    return result


async def revoke(
    session: AsyncSession, *, actor_id: str, award_id: str | int, reason: str, now: datetime,
    policy: Policy,
) -> ReversalResult:
    """撤销: HR or an admin (or an operator) reverses an award at any time, as far as the
    recipient's balance allows: it never goes negative, and ``reversed`` says how much came back.

    Refusals (Forbidden, ReasonRequired, UnknownAward, BadAwardState, NothingToReverse) change
    nothing; a repeat returns the first result. Giver and recipient are both told.
    """
    actor = await authorize_hr(session, actor_id, "revoke")
    if not reason.strip():
        raise errors.ReasonRequired()
    found = await get_award(session, award_id)
    await employee_account(session, found.recipient_id, lock=True)
    award = await get_award(session, found.id, lock=True)
    if (done := await recall(session, f"revoke:{award.id}")) is not None:
        return ReversalResult(**done)
    _check_live(award)
    before = {"status": award.status, "amount": award.amount}
    reversed_ = await _take_back(session, award, actor_id, reason.strip(), now)
    result = await _close(session, award, "revoked", reversed_, now)
    await remember(session, f"revoke:{award.id}", result.to_dict(), now=now)
    payload = _payload(result, award) | {"actor_name": actor, "revoke_reason": reason.strip()}
    for who in (award.recipient_id, award.giver_id):
        await push(session, employee_id=who, kind="award_revoked", now=now,
                   payload=payload | {"for_giver": who == award.giver_id},
                   dedupe_key=f"award-revoked:{award.id}:{who}")
    # SPEC section 10 (审计): the revoke and its entry commit together
    await audit(session, actor=actor_id, action="award.revoke", subject=f"award:Z{award.id}",
                now=now, before=before,
                after={"status": "revoked", "reversed": reversed_, "reason": reason.strip()})
    return result


async def _take_back(
    session: AsyncSession, award: Award, actor_id: str, reason: str, now: datetime,
) -> int:
    """Reverse what the recipient can give back of a paid award (0 for a pending one)."""
    paid = await find_transaction(session, f"award:{award.id}")
    if paid is None:
        return 0
    held = (await balance(session, employee_id=award.recipient_id, now=now)).balance
    amount = min(award.amount, held)
    if amount <= 0:
        raise errors.NothingToReverse(id=f"Z{award.id}", balance=held)
    lot = await _award_lot(session, paid.id)
    await debit(session, employee_id=award.recipient_id, amount=amount,
                key=f"award-revoke:{award.id}", kind="award_revoke", actor=actor_id,
                reason=reason, now=now, to="issuance", ref=f"award:{award.id}", first_lot=lot.id)
    return amount


def _check_live(award: Award) -> None:
    if award.status not in LIVE_AWARDS:
        raise errors.BadAwardState(id=f"Z{award.id}", status=award.status)


async def _award_lot(session: AsyncSession, transaction_id: int) -> Lot:
    lot = await session.scalar(select(Lot).where(Lot.transaction_id == transaction_id)
                               .with_for_update())
    assert lot is not None, "an award credit always creates its lot"
    return lot


async def _close(
    session: AsyncSession, award: Award, status: str, reversed_: int, now: datetime,
) -> ReversalResult:
    """Mark the award, withdraw its pending request, give the allowance back."""
    if award.status == "pending" and award.approval_id is not None:
        await cancel_request(session, approval_id=award.approval_id, now=now)
    returned = await session.scalar(select(AllowanceUse.amount).where(
        AllowanceUse.award_id == award.id, AllowanceUse.status != "released")) or 0
    await session.execute(update(AllowanceUse).where(AllowanceUse.award_id == award.id)
                          .values(status="released").execution_options(synchronize_session=False))
    award.status = status
    await session.flush()
    giver = await get_employee(session, award.giver_id)
    recipient = await get_employee(session, award.recipient_id)
    return ReversalResult(award_id=award.id, recipient_id=recipient.employee_id,
                          recipient_name=recipient.name, giver_id=giver.employee_id,
                          giver_name=giver.name, amount=award.amount, reversed=reversed_,
                          status=status, allowance_returned=int(returned))


def _payload(result: ReversalResult, award: Award) -> dict[str, Any]:
    return result.to_dict() | {"reason": award.reason}

