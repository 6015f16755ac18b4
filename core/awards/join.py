"""+1 (我也赞): join someone else's award with the same recipient and reason.

A join is an ordinary award from the joiner's allowance (every limit of ``give`` applies: no
self-award, the pair limit, the allowance, the approval threshold) linked to the award it joined
(``joined_from``, always the first award, so +1 on a +1 joins the original). Each person joins
an award once; its giver cannot join it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.awards.rules import join_amount, parse_award_id
from core.awards.schemas import AwardResult
from core.awards.service import LIVE_AWARDS, give_locked, lock_and_recall
from core.models import Award
from core.policy import Policy

__all__ = ["get_award", "join"]


async def get_award(session: AsyncSession, award_id: str | int, *, lock: bool = False) -> Award:
    """The award named ``Z12`` / ``12``, or UnknownAward; ``lock`` takes its row lock."""
    stmt = select(Award).where(Award.id == parse_award_id(award_id))
    if lock:
        stmt = stmt.with_for_update()
    award = await session.scalar(stmt.execution_options(populate_existing=True))
    if award is None:
        raise errors.UnknownAward(id=str(award_id))
    return award


async def join(
    session: AsyncSession, *, joiner_id: str, award_id: str | int, amount: int | None, key: str,
    now: datetime, policy: Policy,
) -> AwardResult:
    """Give the recipient of ``award_id`` ``amount`` more (default: the original amount, capped
    at the approval threshold) with the original reason, from the joiner's allowance.

    Refusals (UnknownAward, BadAwardState, AlreadyJoined, and every refusal of ``give``) change
    nothing. A repeated ``key`` returns the first result unchanged.
    """
    joiner, done = await lock_and_recall(session, giver_id=joiner_id, key=key)
    if done is not None:
        return done
    award = await get_award(session, award_id)
    first = award if award.joined_from is None else await get_award(session, award.joined_from)
    if award.status not in LIVE_AWARDS or first.status not in LIVE_AWARDS:
        raise errors.BadAwardState(id=f"Z{award.id}", status=award.status)
    if joiner.employee_id == first.giver_id or await _has_joined(session, joiner.employee_id,
                                                                   first.id):
        raise errors.AlreadyJoined(id=f"Z{first.id}")
    return await give_locked(
        session, giver=joiner, recipient_ids=[first.recipient_id],
        amount=join_amount(first.amount, amount, policy.award), reason=first.reason, key=key,
        now=now, policy=policy, joined_from=first.id)


async def _has_joined(session: AsyncSession, joiner_id: str, first_id: int) -> bool:
    count = await session.scalar(
        select(func.count()).select_from(Award)
        .where(Award.joined_from == first_id, Award.giver_id == joiner_id,
               Award.status.in_(LIVE_AWARDS)))
    return bool(count)
