"""Worked examples for peer awards and the monthly allowance (SPEC sections 2 and 3)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, ledger
from core.approvals import service as approvals
from core.awards import service as awards
from core.awards.rules import hashtags, reason_text
from core.db import Database
from core.ledger.verify import verify
from core.models import (
    Account,
    AllowanceUse,
    ApprovalRequest,
    Award,
    Employee,
    IdempotencyKey,
    LedgerTransaction,
    OutboxMessage,
)
from core.policy import Policy
from tests.factories import add_employee

REASON = "上线支持辛苦了 #团队合作"


async def org(db: Database) -> None:
    """ADM (admin) ← BIG ← M1 (manager of E1, E2, E3); HR1 is HR; LONE has no manager."""
    async with db.uow() as s:
        await add_employee(s, "ADM", "陈静", roles="admin")
        await add_employee(s, "HR1", "林芳", roles="hr", manager_id="ADM")
        await add_employee(s, "BIG", "周总", manager_id="ADM")
        await add_employee(s, "M1", "赵磊", manager_id="BIG")
        for emp, name in (("E1", "张三"), ("E2", "李四"), ("E3", "王五")):
            await add_employee(s, emp, name, manager_id="M1")
        await add_employee(s, "LONE", "独行侠")
        await add_employee(s, "GONE", "离职者", manager_id="M1", active=False)


async def give(
    db: Database, policy: Policy, now: datetime, giver: str, to: list[str], amount: int,
    reason: str = REASON, key: str | None = None,
) -> awards.AwardResult:
    async with db.uow() as s:
        return await awards.give(s, giver_id=giver, recipient_ids=to, amount=amount,
                                 reason=reason, key=key or uuid.uuid4().hex, now=now,
                                 policy=policy)


async def decide(
    db: Database, policy: Policy, now: datetime, approval_id: str | int, actor: str,
    approve: bool = True, comment: str | None = None, step: int | None = None,
) -> approvals.Decision:
    async with db.uow() as s:
        return await approvals.decide(s, approval_id=approval_id, actor_id=actor, approve=approve,
                                      comment=comment, now=now, policy=policy, step=step)


async def balance_of(db: Database, employee_id: str, now: datetime) -> int:
    async with db.uow() as s:
        return (await ledger.balance(s, employee_id=employee_id, now=now)).balance


async def left_of(db: Database, policy: Policy, now: datetime, giver: str) -> int:
    async with db.uow() as s:
        return (await awards.allowance_status(s, giver_id=giver, now=now, policy=policy)).left


async def pushes(s: AsyncSession, kind: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                           .order_by(OutboxMessage.id))
    return [(m.recipient, json.loads(m.payload)) for m in rows]


async def snapshot(db: Database) -> dict[str, Any]:
    """Everything a refused action must leave untouched."""
    async with db.uow() as s:
        def count(model: Any) -> Any:
            return s.scalar(select(func.count()).select_from(model))
        return {
            "balances": {a.code: a.balance for a in await s.scalars(select(Account))},
            "uses": sorted((u.award_id, u.amount, u.status)
                           for u in await s.scalars(select(AllowanceUse))),
            "awards": sorted((a.id, a.status) for a in await s.scalars(select(Award))),
            "outbox": await count(OutboxMessage), "approvals": await count(ApprovalRequest),
            "transactions": await count(LedgerTransaction), "keys": await count(IdempotencyKey),
        }


def test_hashtags_parse_half_and_full_width() -> None:
    assert hashtags("谢谢 #团队合作，还有＃客户第一 #团队合作") == ["团队合作", "客户第一"]
    assert reason_text("#团队合作 谢谢  帮忙 ") == "谢谢 帮忙"


async def test_allowance_default_manager_and_lapses_next_month(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    async with db.uow() as s:
        mine = await awards.allowance_status(s, giver_id="E1", now=now, policy=policy)
        boss = await awards.allowance_status(s, giver_id="M1", now=now, policy=policy)
    assert (mine.month, mine.limit, mine.used, mine.left) == ("2026-03", 100, 0, 100)
    assert (boss.limit, boss.left) == (300, 300)  # M1 has reports → "manager"
    await give(db, policy, now, "E1", ["E2"], 30)
    assert await left_of(db, policy, now, "E1") == 70
    # 2026-03-31 23:59 Shanghai is still March; one minute later April starts afresh.
    assert await left_of(db, policy, datetime(2026, 3, 31, 15, 59, tzinfo=UTC), "E1") == 70
    april = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    async with db.uow() as s:
        fresh = await awards.allowance_status(s, giver_id="E1", now=april, policy=policy)
    assert (fresh.month, fresh.used, fresh.left) == ("2026-04", 0, 100)


async def test_balance_and_allowance_match_their_separate_reads(
    db: Database, policy: Policy, now: datetime
) -> None:
    """The balance reply's one read gives what ``ledger.balance`` and ``allowance_status`` give:
    with lots and allowance used, with neither, and UnknownEmployee for nobody."""
    await org(db)
    await give(db, policy, now, "E1", ["E2"], 30)
    await give(db, policy, now, "M1", ["E2"], 20)
    for who in ("E1", "E2", "M1", "LONE"):
        async with db.uow() as s:
            both = await awards.balance_and_allowance(s, employee_id=who, now=now, policy=policy)
            bal = await ledger.balance(s, employee_id=who, now=now)
            allowance = await awards.allowance_status(s, giver_id=who, now=now, policy=policy)
        assert both == (bal, allowance), who
    assert both[0].balance == 0 and both[1].used == 0  # LONE: no account, nothing given
    async with db.uow() as s:
        e2 = await awards.balance_and_allowance(s, employee_id="E2", now=now, policy=policy)
        e1 = await awards.balance_and_allowance(s, employee_id="E1", now=now, policy=policy)
        with pytest.raises(errors.UnknownEmployee):
            await awards.balance_and_allowance(s, employee_id="NOBODY", now=now, policy=policy)
    assert e2[0].balance == 50 and e2[0].next_expiry_amount == 50
    assert (e1[1].used, e1[1].left) == (30, 70)


async def test_small_award_is_credited_at_once_and_recipient_told(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    result = await give(db, policy, now, "E1", ["E2"], 20, reason="帮我排查故障 #团队合作", key="m1")
    [view] = result.awards
    assert (view.recipient_name, view.amount, view.status, view.approval_id) == ("李四", 20,
                                                                               "approved", None)
    assert result.batch == "m1" and result.allowance_left == 80
    assert await balance_of(db, "E2", now) == 20
    async with db.uow() as s:
        tx = await s.scalar(select(LedgerTransaction)
                            .where(LedgerTransaction.idempotency_key == f"award:{view.award_id}"))
        assert tx is not None and (tx.kind, tx.actor) == ("award", "E1")
        assert await pushes(s, "award_received") == [("employee:E2", {
            "award_id": view.award_id, "giver_id": "E1", "giver_name": "张三", "amount": 20,
            "reason": "帮我排查故障 #团队合作", "hashtags": ["团队合作"]})]
        use = await s.scalar(select(AllowanceUse))
        assert use is not None and (use.status, use.month) == ("spent", "2026-03")
        assert await verify(s) == []


async def test_an_award_reads_people_as_columns_and_loads_no_employee_objects(
    db: Database, policy: Policy, now: datetime
) -> None:
    """The giver and the recipients are read as plain columns (``Person``): the unit of work
    holds no ``Employee`` object afterwards, and the push still names the giver."""
    await org(db)
    await give(db, policy, now, "M1", ["E2", "E3"], 1)  # their accounts (made on first use)
    async with db.uow() as s:
        result = await awards.give(s, giver_id="E1", recipient_ids=["E2", "E3"], amount=5,
                                   reason=REASON, key="cols", now=now, policy=policy)
        assert [o for o in s.identity_map.values() if isinstance(o, Employee)] == []
    async with db.uow() as s:
        assert sorted(p["giver_name"] for _, p in await pushes(s, "award_received")) == [
            "张三", "张三", "赵磊", "赵磊"]
    assert [v.recipient_name for v in result.awards] == ["李四", "王五"]


async def test_a_change_to_a_person_made_earlier_in_the_unit_of_work_counts(
    db: Database, policy: Policy, now: datetime
) -> None:
    """Reading columns does not flush the ORM by itself; the award flushes first, so a
    recipient deactivated earlier in the same unit of work is refused and nothing is paid."""
    await org(db)
    with pytest.raises(errors.InactiveEmployee):
        async with db.uow() as s:
            recipient = await s.get(Employee, "E2")
            assert recipient is not None
            recipient.active = False
            await awards.give(s, giver_id="E1", recipient_ids=["E2"], amount=5, reason=REASON,
                              key="flushed", now=now, policy=policy)
    assert await balance_of(db, "E2", now) == 0


async def test_multi_recipient_costs_amount_times_people(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    result = await give(db, policy, now, "E1", ["E2", "E3"], 30)
    assert [a.recipient_id for a in result.awards] == ["E2", "E3"]
    assert result.allowance_left == 40
    before = await snapshot(db)
    with pytest.raises(errors.InsufficientAllowance) as exc:
        await give(db, policy, now, "E1", ["E2", "E3"], 30)
    assert exc.value.params == {"left": 40, "need": 60}
    assert await snapshot(db) == before
    assert (await balance_of(db, "E2", now), await balance_of(db, "E3", now)) == (30, 30)
    async with db.uow() as s:
        assert await verify(s) == []


def _strict(policy: Policy) -> Policy:
    return policy.model_copy(update={"award": policy.award.model_copy(
        update={"require_value": True})})


REFUSALS: list[tuple[str, dict[str, Any], type[errors.CoreError], dict[str, Any]]] = [
    ("zero", {"amount": 0}, errors.InvalidAmount, {"amount": 0}),
    ("negative", {"amount": -5}, errors.InvalidAmount, {"amount": -5}),
    ("nobody", {"to": []}, errors.NoRecipients, {}),
    ("twice", {"to": ["E2", "E2"]}, errors.DuplicateRecipients, {}),
    ("self", {"to": ["E2", "E1"]}, errors.SelfAward, {}),
    ("unknown", {"to": ["E2", "NOPE"]}, errors.UnknownEmployee, {"who": "NOPE"}),
    ("inactive", {"to": ["GONE"]}, errors.InactiveEmployee, {"who": "离职者"}),
    ("short", {"reason": "#团队合作 谢谢"}, errors.ReasonTooShort, {"min": 4}),
    ("bad value", {"reason": "一起吃饭很开心 #吃货"}, errors.UnknownValue, {}),
    ("no value", {"reason": "一起吃饭很开心", "strict": True}, errors.ValueRequired, {}),
    ("allowance", {"to": ["E2", "E3"], "amount": 40}, errors.InsufficientAllowance,
     {"left": 70, "need": 80}),
]


@pytest.mark.parametrize(("case", "change", "error", "params"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refusals_change_nothing(
    db: Database, policy: Policy, now: datetime, case: str, change: dict[str, Any],
    error: type[errors.CoreError], params: dict[str, Any],
) -> None:
    await org(db)
    await give(db, policy, now, "E1", ["E3"], 30)  # some history that must stay as it is
    before = await snapshot(db)
    rules = _strict(policy) if change.get("strict") else policy
    with pytest.raises(error) as exc:
        await give(db, rules, now, "E1", change.get("to", ["E2"]), change.get("amount", 10),
                   reason=change.get("reason", REASON))
    for name, value in params.items():
        assert exc.value.params[name] == value
    assert await snapshot(db) == before
    async with db.uow() as s:
        assert await verify(s) == []


async def test_value_hashtags_are_checked_against_the_policy(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    with pytest.raises(errors.ValueRequired) as exc:
        await give(db, _strict(policy), now, "E1", ["E2"], 10, reason="一起吃饭很开心")
    assert "#客户第一" in exc.value.params["values"]
    ok = await give(db, _strict(policy), now, "E1", ["E2"], 10, reason="客户夸你了 ＃客户第一")
    async with db.uow() as s:
        award = await s.get(Award, ok.awards[0].award_id)
        assert award is not None and award.hashtags == "客户第一"
    free = policy.model_copy(update={"award": policy.award.model_copy(update={"values": []})})
    await give(db, free, now, "E1", ["E3"], 10, reason="一起吃饭很开心 #吃货")  # any tag goes


async def test_pair_limit_counts_per_local_day(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    await give(db, policy, now, "E1", ["E2"], 5)
    await give(db, policy, now, "E1", ["E2", "E3"], 5)
    before = await snapshot(db)
    late = datetime(2026, 3, 15, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai, same local day
    with pytest.raises(errors.PairLimit) as exc:
        await give(db, policy, late, "E1", ["E3", "E2"], 5)
    assert exc.value.params == {"who": "李四", "limit": 2}
    assert await snapshot(db) == before
    await give(db, policy, late, "E2", ["E1"], 5)  # the other direction is another pair
    midnight = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)  # 00:00 on the 16th in Shanghai
    await give(db, policy, midnight, "E1", ["E2"], 5)
    assert await balance_of(db, "E2", now) == 15
    async with db.uow() as s:
        assert await verify(s) == []


async def test_repeated_key_returns_the_first_result(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    first = await give(db, policy, now, "E1", ["E2", "E3"], 20, key="msg-1")
    before = await snapshot(db)
    again = await give(db, policy, now + timedelta(minutes=1), "E1", ["E2", "E3"], 20, key="msg-1")
    assert again == first and again.allowance_left == 60
    assert await snapshot(db) == before
    assert await balance_of(db, "E2", now) == 20
    async with db.uow() as s:
        assert await verify(s) == []


async def test_concurrent_gives_never_overspend_the_allowance(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)

    async def one(to: str) -> awards.AwardResult:
        return await db.run(lambda s: awards.give(
            s, giver_id="E1", recipient_ids=[to], amount=30, reason=REASON, key=f"c-{to}",
            now=now, policy=policy))

    results = await asyncio.gather(*(one(to) for to in ("E2", "E3", "M1", "LONE", "HR1")),
                                   return_exceptions=True)
    assert sum(isinstance(r, awards.AwardResult) for r in results) == 3
    assert all(isinstance(r, errors.InsufficientAllowance | awards.AwardResult) for r in results)
    assert await left_of(db, policy, now, "E1") == 10
    async with db.uow() as s:
        assert await verify(s) == []


async def test_award_above_threshold_waits_for_the_manager(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    result = await give(db, policy, now, "E1", ["E2"], 60)
    [view] = result.awards
    assert view.status == "pending" and view.approval_id is not None
    assert result.allowance_left == 40  # held while pending
    assert await balance_of(db, "E2", now) == 0
    async with db.uow() as s:
        [(to, payload)] = await pushes(s, "approval_request")
        assert to == "employee:M1"
        assert payload["approval_id"] == f"A{view.approval_id}"
        assert (payload["kind"], payload["requester_id"], payload["requester_name"],
                payload["amount"]) == ("award", "E1", "张三", 60)
        assert await pushes(s, "award_received") == []
    decision = await decide(db, policy, now, f"A{view.approval_id}", "M1", comment="同意")
    assert (decision.status, decision.final, decision.decided_by_name) == ("approved", True, "赵磊")
    with pytest.raises(errors.AlreadyDecided):
        await decide(db, policy, now, view.approval_id, "M1")
    async with db.uow() as s:  # a repeated finalizer call credits nothing more
        await awards.finalize(s, award_id=view.award_id, approved=True, actor_id="M1", now=now,
                              policy=policy)
    assert await balance_of(db, "E2", now) == 60
    assert await left_of(db, policy, now, "E1") == 40
    async with db.uow() as s:
        use = await s.scalar(select(AllowanceUse).where(AllowanceUse.award_id == view.award_id))
        assert use is not None and use.status == "spent"
        assert [to for to, _ in await pushes(s, "award_received")] == ["employee:E2"]
        [(to, decided)] = await pushes(s, "approval_decided")
        assert to == "employee:E1"
        assert (decided["status"], decided["decided_by_name"], decided["comment"]) == (
            "approved", "赵磊", "同意")
        assert await verify(s) == []


async def test_large_award_needs_manager_then_hr(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    [view] = (await give(db, policy, now, "M1", ["E1"], 250)).awards
    first = await decide(db, policy, now, view.approval_id or 0, "BIG")  # M1's manager
    assert (first.status, first.final) == ("pending", False)
    assert await balance_of(db, "E1", now) == 0
    async with db.uow() as s:
        assert [to for to, _ in await pushes(s, "approval_request")] == ["employee:BIG",
                                                                         "employee:HR1"]
        assert [r.id for r in await approvals.pending_for(s, employee_id="HR1")] == [
            view.approval_id]
    with pytest.raises(errors.NotApprover):
        await decide(db, policy, now, view.approval_id or 0, "M1")
    last = await decide(db, policy, now + timedelta(hours=1), view.approval_id or 0, "HR1")
    assert (last.status, last.final, last.decided_by_name) == ("approved", True, "林芳")
    assert await balance_of(db, "E1", now) == 250
    async with db.uow() as s:
        req = await approvals.get_request(s, view.approval_id or 0)
        assert [(st.role, st.decided_by, st.status) for st in req.steps] == [
            ("manager", "BIG", "approved"), ("hr", "HR1", "approved")]
        assert await verify(s) == []


async def test_rejection_releases_the_allowance(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    [view] = (await give(db, policy, now, "E1", ["E2"], 60)).awards
    assert await left_of(db, policy, now, "E1") == 40
    decision = await decide(db, policy, now, view.approval_id or 0, "M1", approve=False,
                            comment="理由不充分")
    assert (decision.status, decision.final) == ("rejected", True)
    assert await left_of(db, policy, now, "E1") == 100
    assert await balance_of(db, "E2", now) == 0
    async with db.uow() as s:
        award = await s.get(Award, view.award_id)
        assert award is not None and award.status == "rejected"
        assert await pushes(s, "award_received") == []
        [(_, decided)] = await pushes(s, "approval_decided")
        assert (decided["status"], decided["comment"]) == ("rejected", "理由不充分")
    # a rejected award does not count towards the daily pair limit
    await give(db, policy, now, "E1", ["E2"], 10)
    await give(db, policy, now, "E1", ["E2"], 10)
    async with db.uow() as s:
        assert await verify(s) == []
