"""Worked examples for 申诉 (appeals): deductions, rejected awards and rejected applications."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import errors
from core.appeals import service as appeals
from core.applications import service as applications
from core.db import Database
from core.hr import service as hr
from core.ledger.verify import verify
from core.models import Appeal, ApprovalRequest, Award, LedgerTransaction
from core.policy import Policy
from tests.core.test_awards import balance_of, decide, give, left_of, org, pushes, snapshot


async def appeal(
    db: Database, policy: Policy, now: datetime, who: str, subject: str,
    reason: str = "扣分有误，当天我在出差", key: str | None = None,
) -> appeals.AppealView:
    async with db.uow() as s:
        return await appeals.appeal(s, appellant_id=who, subject=subject, reason=reason,
                                    key=key or uuid.uuid4().hex, now=now, policy=policy)


async def deducted(db: Database, policy: Policy, now: datetime, emp: str, amount: int) -> int:
    async with db.uow() as s:
        await hr.grant(s, actor_id="cli", employee_id=emp, amount=100, reason="季度奖励",
                       key=f"g-{emp}", now=now, policy=policy)
        result = await hr.deduct(s, actor_id="HR1", employee_id=emp, amount=amount,
                                 reason="迟到", key=f"d-{emp}", now=now, policy=policy)
    return result.transaction_id


def test_subjects_parse() -> None:
    assert [appeals.parse_subject(t) for t in ("T12", "ｔ１２", "A3", "Z4", "4")] == [
        ("T", 12), ("T", 12), ("A", 3), ("Z", 4), ("Z", 4)]
    for bad in ("X1", "T0", "T", "T-1"):
        with pytest.raises(errors.UnknownAppealSubject):
            appeals.parse_subject(bad)


async def test_an_approved_appeal_refunds_the_deduction(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    tx_id = await deducted(db, policy, now, "E1", 30)
    view = await appeal(db, policy, now, "E1", f"T{tx_id}", key="k")
    assert (view.subject, view.amount, view.status) == (f"T{tx_id}", 30, "pending")
    assert await appeal(db, policy, now, "E1", f"T{tx_id}", key="k") == view  # redelivery
    async with db.uow() as s:
        req = await s.get(ApprovalRequest, view.approval_id)
        assert req is not None and (req.kind, req.steps[0].approver_role) == ("appeal", "hr")
        [(to, payload)] = await pushes(s, "approval_request")
        assert to == "employee:HR1" and payload["kind"] == "appeal"
    await decide(db, policy, now + timedelta(hours=1), view.approval_public_id, "HR1")
    assert await balance_of(db, "E1", now + timedelta(hours=1)) == 100
    async with db.uow() as s:
        tx = await s.scalar(select(LedgerTransaction).where(
            LedgerTransaction.idempotency_key == f"appeal:{view.id}"))
        assert tx is not None and tx.kind == "refund" and tx.actor == "HR1"
        row = await s.get(Appeal, view.id)
        assert row is not None and row.status == "approved"
        [(to, payload)] = await pushes(s, "approval_decided")
        assert to == "employee:E1" and (payload["kind"], payload["status"]) == ("appeal", "approved")
        assert await verify(s) == []


async def test_a_rejected_appeal_changes_nothing_but_tells_the_appellant(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    tx_id = await deducted(db, policy, now, "E1", 30)
    view = await appeal(db, policy, now, "E1", f"T{tx_id}")
    await decide(db, policy, now, view.approval_id, "HR1", approve=False, comment="证据不足")
    assert await balance_of(db, "E1", now) == 70
    async with db.uow() as s:
        [(to, payload)] = await pushes(s, "approval_decided")
        assert to == "employee:E1" and payload["status"] == "rejected"
    before = await snapshot(db)
    with pytest.raises(errors.AlreadyAppealed):  # one appeal per subject
        await appeal(db, policy, now, "E1", f"T{tx_id}")
    assert await snapshot(db) == before


async def test_an_approved_appeal_reopens_and_pays_a_rejected_award(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    [award] = (await give(db, policy, now, "E1", ["E2"], 80)).awards
    await decide(db, policy, now, award.approval_id or 0, "M1", approve=False)
    assert await left_of(db, policy, now, "E1") == 100
    view = await appeal(db, policy, now, "E2", f"A{award.approval_id}", reason="这是真实的贡献")
    assert view.subject == f"Z{award.award_id}"
    await decide(db, policy, now, view.approval_id, "HR1")
    assert await balance_of(db, "E2", now) == 80
    assert await left_of(db, policy, now, "E1") == 20  # counted again in its own month
    async with db.uow() as s:
        row = await s.get(Award, award.award_id)
        assert row is not None and row.status == "approved"
        assert [to for to, _ in await pushes(s, "award_received")] == ["employee:E2"]
        assert await verify(s) == []


async def test_an_approved_appeal_pays_a_rejected_application(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    async with db.uow() as s:
        app = await applications.apply(s, applicant_id="E1", amount=40, reason="完成年度培训课程",
                                       key="ap", now=now, policy=policy)
    await decide(db, policy, now, app.approval_id or 0, "M1", approve=False)
    view = await appeal(db, policy, now, "E1", f"A{app.approval_id}", reason="证书已补交")
    await decide(db, policy, now, view.approval_id, "HR1")
    assert await balance_of(db, "E1", now) == 40


async def test_appeal_refusals_change_nothing(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    tx_id = await deducted(db, policy, now, "E1", 30)
    [paid] = (await give(db, policy, now, "E1", ["E2"], 10)).awards
    [waiting] = (await give(db, policy, now, "E1", ["E3"], 80)).awards
    cases: list[tuple[type[errors.CoreError], str, str, str]] = [
        (errors.UnknownAppealSubject, "E2", f"T{tx_id}", "不是我的扣分"),  # someone else's
        (errors.UnknownAppealSubject, "E1", "T999", "没有这笔交易"),
        (errors.UnknownAppealSubject, "E3", f"Z{paid.award_id}", "不相干的人申诉"),
        (errors.NotAppealable, "E2", f"Z{paid.award_id}", "已经发放的赞"),
        (errors.NotAppealable, "E1", f"A{waiting.approval_id}", "还在审批中"),
        (errors.ReasonTooShort, "E1", f"T{tx_id}", "错"),
        (errors.InactiveEmployee, "GONE", f"T{tx_id}", "离职员工申诉"),
    ]
    for code, who, subject, reason in cases:
        before = await snapshot(db)
        with pytest.raises(code):
            await appeal(db, policy, now, who, subject, reason=reason)
        assert await snapshot(db) == before, code
