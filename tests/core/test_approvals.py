"""Worked examples for approval chains: who decides, first decision wins, reminders, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from core import errors
from core.approvals import service as approvals
from core.audit.service import AuditFilter, entries
from core.db import Database
from core.ledger.verify import verify
from core.models import ApprovalStep, Employee
from core.policy import Policy
from tests.core.test_awards import balance_of, decide, give, org, pushes, snapshot


async def _pending_award(db: Database, policy: Policy, now: datetime, giver: str = "E1") -> int:
    [view] = (await give(db, policy, now, giver, ["E2"], 60)).awards
    assert view.approval_id is not None
    return view.approval_id


@pytest.mark.parametrize("text", ["A12", "a12", " Ａ１２ ", "12", "#A12"])
def test_parse_approval_id_accepts_public_forms(text: str) -> None:
    assert approvals.parse_approval_id(text) == 12
    assert approvals.parse_approval_id(12) == 12


@pytest.mark.parametrize("text", ["", "B12", "A", "A0", "12a", "-3"])
def test_parse_approval_id_refuses_the_rest(text: str) -> None:
    with pytest.raises(errors.UnknownApproval):
        approvals.parse_approval_id(text)


async def test_unknown_approval(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    with pytest.raises(errors.UnknownApproval) as exc:
        await decide(db, policy, now, "A999", "ADM")
    assert exc.value.params == {"id": "A999"}


async def test_only_the_current_approver_decides(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    before = await snapshot(db)
    for outsider in ("E3", "E2", "E1", "HR1", "BIG", "NOPE"):  # peer, recipient, requester, …
        with pytest.raises(errors.NotApprover):
            await decide(db, policy, now, rid, outsider)
    assert await snapshot(db) == before
    async with db.uow() as s:
        assert [r.id for r in await approvals.pending_for(s, employee_id="M1")] == [rid]
        assert await approvals.pending_for(s, employee_id="E3") == []
        assert await approvals.pending_for(s, employee_id="E1") == []  # own request


async def test_first_decision_wins_and_names_the_decider(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    await decide(db, policy, now, f"A{rid}", "M1")
    before = await snapshot(db)
    for actor, approve in (("M1", True), ("ADM", False), ("E3", True)):
        with pytest.raises(errors.AlreadyDecided) as exc:
            await decide(db, policy, now, f"a{rid}", actor, approve=approve)
        assert exc.value.params == {"by": "赵磊", "status": "approved"}
    assert await snapshot(db) == before
    assert await balance_of(db, "E2", now) == 60
    async with db.uow() as s:
        assert await verify(s) == []
        # the decision is audited once, by its decider; the refused clicks left no entry
        [row] = await entries(s, where=AuditFilter(subject=f"approval:A{rid}"), limit=10)
    assert (row.actor, row.action, row.at) == ("M1", "approval.approved", now)
    assert row.before == {"status": "pending", "step": 0}
    assert row.after["status"] == row.after["request_status"] == "approved"
    assert row.after["kind"] == "award"


async def test_admin_can_decide_any_request(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    async with db.uow() as s:
        assert [r.id for r in await approvals.pending_for(s, employee_id="ADM")] == [rid]
    decision = await decide(db, policy, now, rid, "ADM", comment="代为审批")
    assert (decision.status, decision.decided_by_name, decision.comment) == ("approved", "陈静",
                                                                             "代为审批")
    async with db.uow() as s:
        req = await approvals.get_request(s, rid)
        [step] = req.steps
        assert (step.decided_by, step.decided_at, step.comment) == ("ADM", now, "代为审批")
        assert req.decided_at == now
        assert await verify(s) == []
    assert await balance_of(db, "E2", now) == 60


async def test_requester_without_manager_goes_to_hr(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now, giver="LONE")
    async with db.uow() as s:
        req = await approvals.get_request(s, rid)
        [step] = req.steps
        assert (step.role, step.approver_id, step.approver_role) == ("manager", None, "hr")
        assert [to for to, _ in await pushes(s, "approval_request")] == ["employee:HR1"]
    with pytest.raises(errors.NotApprover):
        await decide(db, policy, now, rid, "M1")
    await decide(db, policy, now, rid, "HR1")
    assert await balance_of(db, "E2", now) == 60


async def test_chain_with_manager_fallen_to_hr_asks_hr_once(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    async with db.uow() as s:  # LONE has no manager, so [manager, hr] would be HR twice
        await s.execute(update(Employee).where(Employee.employee_id == "LONE")
                        .values(roles="hr"))
    rich = policy.model_copy(update={"allowance": policy.allowance.model_copy(
        update={"monthly": 1000})})
    [view] = (await give(db, rich, now, "LONE", ["E2"], 250)).awards
    async with db.uow() as s:
        req = await approvals.get_request(s, view.approval_id or 0)
        assert [(st.approver_role, st.status) for st in req.steps] == [("hr", "pending")]
        assert [to for to, _ in await pushes(s, "approval_request")] == ["employee:HR1"]
    with pytest.raises(errors.NotApprover):  # nobody approves their own request
        await decide(db, policy, now, view.approval_id or 0, "LONE")
    await decide(db, policy, now, view.approval_id or 0, "HR1")
    assert await balance_of(db, "E2", now) == 250


async def test_nobody_to_approve_refuses_the_award(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    async with db.uow() as s:
        await s.execute(update(Employee).where(Employee.employee_id.in_(["HR1", "ADM"]))
                        .values(active=False))
    before = await snapshot(db)
    with pytest.raises(errors.NoApprover):
        await give(db, policy, now, "LONE", ["E2"], 60)
    assert await snapshot(db) == before


async def test_double_click_on_a_two_step_chain_decides_once(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    [view] = (await give(db, policy, now, "M1", ["E1"], 250)).awards
    rid = view.approval_id or 0
    await decide(db, policy, now, rid, "BIG", step=0)
    with pytest.raises(errors.AlreadyDecided) as exc:  # BIG is not the HR step's approver
        await decide(db, policy, now, rid, "BIG")
    assert exc.value.params == {"by": "周总", "status": "approved"}
    with pytest.raises(errors.AlreadyDecided):  # an admin's stale button names its step
        await decide(db, policy, now, rid, "ADM", step=0)
    async with db.uow() as s:
        req = await approvals.get_request(s, rid)
        assert (req.status, req.current_step) == ("pending", 1)
    await decide(db, policy, now, rid, "ADM", step=1)
    assert await balance_of(db, "E1", now) == 250
    async with db.uow() as s:  # one entry per step decided, in order
        rows = await entries(s, where=AuditFilter(subject=f"approval:A{rid}"), limit=10)
    assert [(r.actor, r.after["step"], r.after["request_status"]) for r in rows] == [
        ("BIG", 0, "pending"), ("ADM", 1, "approved")]


async def test_rejection_on_the_first_step_skips_the_rest(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    [view] = (await give(db, policy, now, "M1", ["E1"], 250)).awards
    await decide(db, policy, now, view.approval_id or 0, "BIG", approve=False)
    async with db.uow() as s:
        req = await approvals.get_request(s, view.approval_id or 0)
        assert req.status == "rejected"
        assert [st.status for st in req.steps] == ["rejected", "skipped"]
        assert [to for to, _ in await pushes(s, "approval_request")] == ["employee:BIG"]
        [row] = await entries(s, where=AuditFilter(action="approval.rejected"), limit=10)
        assert (row.actor, row.after["request_status"]) == ("BIG", "rejected")
    with pytest.raises(errors.AlreadyDecided) as exc:
        await decide(db, policy, now, view.approval_id or 0, "HR1")
    assert exc.value.params == {"by": "周总", "status": "rejected"}


async def test_cancelled_request_cannot_be_decided(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    async with db.uow() as s:
        assert await approvals.cancel(s, approval_id=rid, now=now) is True
        assert await approvals.cancel(s, approval_id=rid, now=now) is False
    with pytest.raises(errors.AlreadyDecided) as exc:
        await decide(db, policy, now, rid, "M1")
    assert exc.value.params["status"] == "cancelled"


async def _run_job(db: Database, policy: Policy, at: datetime) -> tuple[int, int]:
    async with db.uow() as s:
        res = await approvals.remind_and_escalate(s, now=at, policy=policy)
    return res.reminded, res.escalated


async def test_reminded_after_24h_and_escalated_after_72h_once_each(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    assert await _run_job(db, policy, now + timedelta(hours=23)) == (0, 0)
    assert await _run_job(db, policy, now + timedelta(hours=25)) == (1, 0)
    assert await _run_job(db, policy, now + timedelta(hours=26)) == (0, 0)
    assert await _run_job(db, policy, now + timedelta(hours=73)) == (0, 1)
    assert await _run_job(db, policy, now + timedelta(hours=200)) == (0, 0)
    async with db.uow() as s:
        assert [to for to, _ in await pushes(s, "approval_reminder")] == ["employee:M1"]
        [(to, payload)] = await pushes(s, "approval_escalated")
        assert to == "employee:BIG"  # M1's own manager
        assert (payload["approval_id"], payload["escalated_from"], payload["escalated_from_name"]
                ) == (f"A{rid}", "M1", "赵磊")
        step = await s.scalar(select(ApprovalStep).where(ApprovalStep.request_id == rid))
        assert step is not None
        assert (step.approver_id, step.escalated_from) == ("BIG", "M1")
        assert (step.reminded_at, step.escalated_at) == (now + timedelta(hours=25),
                                                         now + timedelta(hours=73))
        assert [r.id for r in await approvals.pending_for(s, employee_id="BIG")] == [rid]
    decision = await decide(db, policy, now + timedelta(hours=74), rid, "BIG")
    assert decision.decided_by_name == "周总"
    assert await balance_of(db, "E2", now) == 60


async def test_escalated_step_can_still_be_decided_by_the_original_approver(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    assert await _run_job(db, policy, now + timedelta(hours=80)) == (1, 1)  # both in one run
    await decide(db, policy, now + timedelta(hours=81), rid, "M1", approve=False)
    with pytest.raises(errors.AlreadyDecided):
        await decide(db, policy, now + timedelta(hours=82), rid, "BIG")


async def test_hr_step_escalates_to_the_admins(db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now, giver="LONE")
    assert await _run_job(db, policy, now + timedelta(hours=73)) == (1, 1)
    async with db.uow() as s:
        assert [to for to, _ in await pushes(s, "approval_reminder")] == ["employee:HR1"]
        assert [to for to, _ in await pushes(s, "approval_escalated")] == ["employee:ADM"]
        step = await s.scalar(select(ApprovalStep).where(ApprovalStep.request_id == rid))
        assert step is not None
        assert (step.approver_id, step.approver_role, step.escalated_from) == (
            None, "admin", "role:hr")
    await decide(db, policy, now + timedelta(hours=74), rid, "HR1")  # HR may still decide
    assert await _run_job(db, policy, now + timedelta(hours=300)) == (0, 0)


async def test_decided_requests_are_neither_reminded_nor_escalated(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    rid = await _pending_award(db, policy, now)
    await decide(db, policy, now + timedelta(hours=1), rid, "M1")
    assert await _run_job(db, policy, now + timedelta(hours=100)) == (0, 0)
    async with db.uow() as s:
        assert await verify(s) == []
