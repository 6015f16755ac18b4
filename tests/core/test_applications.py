"""Worked examples for points applications (积分申请)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from core import errors
from core.applications import service as applications
from core.approvals import service as approvals
from core.db import Database
from core.ledger.verify import verify
from core.models import Application, LedgerTransaction
from core.policy import Policy
from tests.core.test_awards import balance_of, decide, org, pushes, snapshot

EVIDENCE = "周末值班处理线上故障，见工单 #1234"


async def _apply(
    db: Database, policy: Policy, now: datetime, *, who: str = "E1", amount: int = 80,
    reason: str = EVIDENCE, key: str = "apply-1",
) -> applications.ApplicationView:
    async with db.uow() as s:
        return await applications.apply(s, applicant_id=who, amount=amount, reason=reason,
                                        key=key, now=now, policy=policy)


async def test_approved_application_is_credited_once(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    view = await _apply(db, policy, now)
    assert (view.amount, view.status) == (80, "pending") and view.approval_id is not None
    assert view.approval_public_id == f"A{view.approval_id}"
    async with db.uow() as s:
        [(to, payload)] = await pushes(s, "approval_request")
        assert to == "employee:M1"
        assert (payload["kind"], payload["subject_id"], payload["amount"], payload["summary"]) == (
            "application", str(view.id), 80, EVIDENCE)
    decision = await decide(db, policy, now, view.approval_id, "M1", comment="辛苦")
    assert (decision.kind, decision.status, decision.final) == ("application", "approved", True)
    assert await balance_of(db, "E1", now) == 80
    async with db.uow() as s:
        app = await s.get(Application, view.id)
        assert app is not None and app.status == "approved"
        tx = await s.scalar(select(LedgerTransaction)
                            .where(LedgerTransaction.idempotency_key == f"application:{view.id}"))
        assert tx is not None and (tx.kind, tx.actor) == ("application", "M1")
        await applications.finalize(s, application_id=view.id, approved=True, actor_id="M1",
                                    now=now, policy=policy)  # a repeat credits nothing more
        [(to, decided)] = await pushes(s, "approval_decided")
        assert (to, decided["status"], decided["comment"]) == ("employee:E1", "approved", "辛苦")
    assert await balance_of(db, "E1", now) == 80
    async with db.uow() as s:
        assert await verify(s) == []


async def test_rejected_application_credits_nothing(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    view = await _apply(db, policy, now)
    decision = await decide(db, policy, now, view.approval_id or 0, "M1", approve=False,
                            comment="证据不足")
    assert decision.status == "rejected"
    assert await balance_of(db, "E1", now) == 0
    async with db.uow() as s:
        app = await s.get(Application, view.id)
        assert app is not None and app.status == "rejected"
        [(_, decided)] = await pushes(s, "approval_decided")
        assert (decided["status"], decided["decided_by_name"]) == ("rejected", "赵磊")
        assert await verify(s) == []


async def test_repeated_key_files_one_application(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    first = await _apply(db, policy, now)
    before = await snapshot(db)
    assert await _apply(db, policy, now) == first
    assert await snapshot(db) == before


async def test_applicant_without_manager_goes_to_hr(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    view = await _apply(db, policy, now, who="LONE")
    async with db.uow() as s:
        assert [r.id for r in await approvals.pending_for(s, employee_id="HR1")] == [
            view.approval_id]
    await decide(db, policy, now, view.approval_id or 0, "HR1")
    assert await balance_of(db, "LONE", now) == 80


@pytest.mark.parametrize(("who", "amount", "reason", "error"), [
    ("E1", 0, EVIDENCE, errors.InvalidAmount),
    ("E1", -10, EVIDENCE, errors.InvalidAmount),
    ("E1", 50, "  加班 ", errors.ReasonTooShort),
    ("GONE", 50, EVIDENCE, errors.InactiveEmployee),
    ("NOPE", 50, EVIDENCE, errors.UnknownEmployee),
])
async def test_refused_application_changes_nothing(
    db: Database, policy: Policy, now: datetime, who: str, amount: int, reason: str,
    error: type[errors.CoreError],
) -> None:
    await org(db)
    await _apply(db, policy, now, key="earlier")
    before = await snapshot(db)
    with pytest.raises(error):
        await _apply(db, policy, now, who=who, amount=amount, reason=reason)
    assert await snapshot(db) == before
