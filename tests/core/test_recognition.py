"""Worked examples for +1, 撤回 (undo), 撤销 (revoke) and the per-report allowance (SPEC section 13)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import errors, ledger
from core.awards import join as joins
from core.awards import reversal
from core.awards import service as awards
from core.awards.rules import join_amount, parse_award_id
from core.awards.schemas import AwardResult, ReversalResult
from core.db import Database
from core.hr import service as hr
from core.ledger.verify import verify
from core.models import ApprovalRequest, Award, LedgerTransaction
from core.policy import Policy
from tests.core.test_awards import balance_of, decide, give, left_of, org, pushes, snapshot
from tests.factories import add_employee


async def join(
    db: Database, policy: Policy, now: datetime, joiner: str, award_id: int | str,
    amount: int | None = None, key: str | None = None,
) -> AwardResult:
    async with db.uow() as s:
        return await joins.join(s, joiner_id=joiner, award_id=award_id, amount=amount,
                                key=key or uuid.uuid4().hex, now=now, policy=policy)


async def undo(db: Database, policy: Policy, now: datetime, actor: str, award_id: int) -> ReversalResult:
    async with db.uow() as s:
        return await reversal.undo(s, actor_id=actor, award_id=award_id, now=now, policy=policy)


async def revoke(
    db: Database, policy: Policy, now: datetime, actor: str, award_id: int, reason: str = "重复发放",
) -> ReversalResult:
    async with db.uow() as s:
        return await reversal.revoke(s, actor_id=actor, award_id=f"Z{award_id}", reason=reason,
                                     now=now, policy=policy)


async def refused(db: Database, code: type[errors.CoreError], coro_fn: object) -> None:
    before = await snapshot(db)
    with pytest.raises(code):
        await coro_fn()  # type: ignore[operator]
    assert await snapshot(db) == before


def test_award_ids_and_join_amounts() -> None:
    assert [parse_award_id(t) for t in ("Z12", "z12", "Ｚ１２", " 12 ", 7)] == [12, 12, 12, 12, 7]
    for bad in ("A12", "Z0", "", "Z1x", 0):
        with pytest.raises(errors.UnknownAward):
            parse_award_id(bad)
    award = Policy().award
    assert (join_amount(20, None, award), join_amount(80, None, award)) == (20, 50)
    assert join_amount(80, 70, award) == 70


async def test_plus_one_joins_with_the_same_reason_and_tells_who_joined(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [first] = (await give(db, policy, now, "E1", ["E2"], 80)).awards  # waits for M1
    [plain] = (await give(db, policy, now, "E3", ["E2"], 20, reason="深夜救火 #客户第一")).awards
    result = await join(db, policy, now, "M1", plain.award_id, key="j1")
    [view] = result.awards
    assert (view.recipient_id, view.amount, view.status, view.joined_from) == (
        "E2", 20, "approved", plain.award_id)
    assert await join(db, policy, now, "M1", plain.award_id, key="j1") == result  # redelivery
    capped = (await join(db, policy, now, "E3", first.award_id)).awards[0]
    assert (capped.amount, capped.status) == (50, "approved")  # 80 capped at the threshold
    async with db.uow() as s:
        award = await s.get(Award, view.award_id)
        assert award is not None and award.reason == "深夜救火 #客户第一" and award.hashtags == "客户第一"
        received = [p for r, p in await pushes(s, "award_received") if p["award_id"] == view.award_id]
        assert received == [{"award_id": view.award_id, "giver_id": "M1", "giver_name": "赵磊",
                             "amount": 20, "reason": "深夜救火 #客户第一", "hashtags": ["客户第一"],
                             "joined_from": plain.award_id, "original_giver_id": "E3",
                             "original_giver_name": "王五"}]
        assert await verify(s) == []
    # +1 on a +1 joins the first award
    again = await join(db, policy, now, "E1", view.award_id, amount=5)
    assert again.awards[0].joined_from == plain.award_id
    assert await balance_of(db, "E2", now) == 20 + 20 + 50 + 5


async def test_plus_one_refusals_change_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 20)).awards
    await join(db, policy, now, "E3", award.award_id)
    cases: list[tuple[type[errors.CoreError], str, object]] = [
        (errors.UnknownAward, "E3", 999), (errors.UnknownAward, "E3", "A1"),
        (errors.AlreadyJoined, "E1", award.award_id),  # the giver
        (errors.AlreadyJoined, "E3", award.award_id),  # once per person
        (errors.SelfAward, "E2", award.award_id),
        (errors.InactiveEmployee, "GONE", award.award_id),
    ]
    for code, who, ref in cases:
        await refused(db, code, lambda who=who, ref=ref: join(db, policy, now, who, ref))
    await refused(db, errors.InsufficientAllowance,
                  lambda: join(db, policy, now, "M1", award.award_id, amount=301))
    await refused(db, errors.InvalidAmount, lambda: join(db, policy, now, "M1", award.award_id, 0))
    await give(db, policy, now, "LONE", ["E2"], 5)
    await give(db, policy, now, "LONE", ["E2"], 5)
    await refused(db, errors.PairLimit, lambda: join(db, policy, now, "LONE", award.award_id))
    await undo(db, policy, now, "E1", award.award_id)
    await refused(db, errors.BadAwardState, lambda: join(db, policy, now, "M1", award.award_id))


async def test_a_large_plus_one_needs_the_joiners_manager(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 20)).awards
    [big] = (await join(db, policy, now, "BIG", award.award_id, amount=60)).awards
    assert big.status == "pending" and big.approval_id is not None
    async with db.uow() as s:
        req = await s.get(ApprovalRequest, big.approval_id)
        assert req is not None and req.requester_id == "BIG" and req.steps[0].approver_id == "ADM"


async def test_undo_within_the_window_reverses_and_returns_the_allowance(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 30)).awards
    later = now + timedelta(minutes=10)
    result = await undo(db, policy, later, "E1", award.award_id)
    assert (result.status, result.reversed, result.allowance_returned) == ("undone", 30, 30)
    assert await undo(db, policy, later, "E1", award.award_id) == result  # a repeat
    assert await balance_of(db, "E2", later) == 0
    assert await left_of(db, policy, later, "E1") == 100
    async with db.uow() as s:
        tx = await s.scalar(select(LedgerTransaction).where(
            LedgerTransaction.idempotency_key == f"award-undo:{award.award_id}"))
        assert tx is not None and (tx.kind, tx.actor, tx.ref) == ("award_undo", "E1",
                                                                  f"award:{award.award_id}")
        [(to, payload)] = await pushes(s, "award_undone")
        assert to == "employee:E2" and payload["giver_name"] == "张三" and payload["reversed"] == 30
        assert await verify(s) == []
    # undone awards do not count towards the pair limit
    await give(db, policy, later, "E1", ["E2"], 5)
    await give(db, policy, later, "E1", ["E2"], 5)


async def test_undo_refusals_change_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    async with db.uow() as s:
        await hr.grant(s, actor_id="cli", employee_id="E2", amount=5, reason="早期积分", key="g",
                       now=now - timedelta(days=1), policy=policy,
                       expires_at=now + timedelta(days=3))
    [award] = (await give(db, policy, now, "E1", ["E2"], 30)).awards
    await refused(db, errors.NotYourAward, lambda: undo(db, policy, now, "E2", award.award_id))
    await refused(db, errors.UnknownAward, lambda: undo(db, policy, now, "E1", 12345))
    await refused(db, errors.UndoExpired,
                  lambda: undo(db, policy, now + timedelta(minutes=11), "E1", award.award_id))
    async with db.uow() as s:  # spending 10 takes the older 5 first, then 5 of the award's lot
        await ledger.debit(s, employee_id="E2", amount=10, key="spend", kind="redeem", actor="E2",
                           reason="spend", now=now, to="adjustment")
    await refused(db, errors.PointsSpent, lambda: undo(db, policy, now, "E1", award.award_id))
    off = policy.model_copy(update={"award": policy.award.model_copy(update={"undo_minutes": 0})})
    [other] = (await give(db, policy, now, "E1", ["E3"], 10)).awards
    await refused(db, errors.UndoExpired, lambda: undo(db, off, now, "E1", other.award_id))


async def test_undo_of_a_pending_award_withdraws_its_approval(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 80)).awards
    result = await undo(db, policy, now + timedelta(minutes=2), "E1", award.award_id)
    assert (result.reversed, result.allowance_returned) == (0, 80)
    async with db.uow() as s:
        req = await s.get(ApprovalRequest, award.approval_id)
        assert req is not None and req.status == "cancelled"
        assert await pushes(s, "award_undone") == []
    with pytest.raises(errors.AlreadyDecided):
        await decide(db, policy, now, award.approval_id or 0, "M1")


async def test_revoke_never_drives_a_balance_negative(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 40)).awards
    async with db.uow() as s:
        await ledger.debit(s, employee_id="E2", amount=25, key="spend", kind="redeem", actor="E2",
                           reason="spend", now=now, to="adjustment")
    later = now + timedelta(days=3)
    await refused(db, errors.Forbidden, lambda: revoke(db, policy, later, "M1", award.award_id))
    await refused(db, errors.ReasonRequired,
                  lambda: revoke(db, policy, later, "HR1", award.award_id, reason=" "))
    result = await revoke(db, policy, later, "HR1", award.award_id)
    assert (result.amount, result.reversed, result.status) == (40, 15, "revoked")
    assert await revoke(db, policy, later, "HR1", award.award_id) == result
    assert await balance_of(db, "E2", later) == 0
    assert await left_of(db, policy, later, "E1") == 100
    async with db.uow() as s:
        told = sorted((to, p["reversed"], p["actor_name"]) for to, p in
                      await pushes(s, "award_revoked"))
        assert told == [("employee:E1", 15, "林芳"), ("employee:E2", 15, "林芳")]
        assert await verify(s) == []
    await refused(db, errors.BadAwardState, lambda: undo(db, policy, later, "E1", award.award_id))


async def test_revoke_with_nothing_left_is_refused_and_pending_is_withdrawn(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [paid] = (await give(db, policy, now, "E1", ["E2"], 10)).awards
    async with db.uow() as s:
        await ledger.debit(s, employee_id="E2", amount=10, key="spend", kind="redeem", actor="E2",
                           reason="spend", now=now, to="adjustment")
    await refused(db, errors.NothingToReverse, lambda: revoke(db, policy, now, "ADM", paid.award_id))
    [pending] = (await give(db, policy, now, "E1", ["E3"], 80)).awards
    result = await revoke(db, policy, now, "cli", pending.award_id)
    assert (result.reversed, result.allowance_returned) == (0, 80)


async def test_per_report_allowance_grows_with_active_reports(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    grow = policy.model_copy(update={"allowance": policy.allowance.model_copy(
        update={"per_report": 20})})
    async with db.uow() as s:
        await add_employee(s, "E4", "赵六", manager_id="M1")
        boss = await awards.allowance_status(s, giver_id="M1", now=now, policy=grow)
        lone = await awards.allowance_status(s, giver_id="E1", now=now, policy=grow)
    # M1: manager 300 + 4 active reports × 20 (GONE is inactive)
    assert (boss.limit, boss.reports, boss.per_report) == (380, 4, 20)
    assert (lone.limit, lone.reports) == (100, 0)
    await give(db, grow, now, "M1", ["E1", "E2", "E3", "E4"], 50)  # 200, then 180 are left
    with pytest.raises(errors.InsufficientAllowance):
        await give(db, grow, now, "M1", ["E1", "E2", "E3", "E4"], 50)
