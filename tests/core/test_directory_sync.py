"""Directory sync in the core, from plain rosters: matching, diff, guard, leavers (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.approvals.service import open_request
from core.autogrants.service import run_auto_grants
from core.db import Database
from core.directory_sync.changes import Member, Roster
from core.directory_sync.sync import apply_member, remove_member, sync_directory
from core.ledger.verify import verify
from core.models import ApprovalStep, AuditEntry, Employee, OutboxMessage
from core.policy import Policy
from tests.factories import add_employee

TODAY = date(2026, 3, 15)


async def _emp(s: AsyncSession, employee_id: str) -> Employee:
    found = await s.get(Employee, employee_id)
    assert found is not None, employee_id
    return found


def wc(*members: Member) -> Roster:
    return Roster("wecom", members)


async def seed(db: Database) -> None:
    async def work(s):  # type: ignore[no-untyped-def]
        await add_employee(s, "E1", "陈静", wecom="chenjing", roles="hr")
        await add_employee(s, "E2", "赵磊", wecom="zhaolei", manager_id="E1")
        await add_employee(s, "E3", "王伟", manager_id="E2")  # CSV only: matched by mobile below
        emp = await _emp(s, "E3")
        emp.mobile = "+86 138-0000-0003"
    await db.run(work)


async def run(db: Database, policy: Policy, now: datetime, roster: Roster, **kw):  # type: ignore[no-untyped-def]
    return await db.run(lambda s: sync_directory(s, roster=roster, policy=policy, now=now,
                                                 today=TODAY, **kw))


BASE = (Member("chenjing", "陈静", "总经办"), Member("zhaolei", "赵磊", "研发部", "chenjing"),
        Member("wangwei", "王伟", "研发部/后端组", "zhaolei", mobile="13800000003"))


async def test_create_update_match_by_mobile_and_managers(db: Database, policy: Policy,
                                                          now: datetime) -> None:
    await seed(db)
    newbie = Member("liuyang", "刘洋", "研发部/后端组", "wangwei", email="ly@example.com")
    report = await run(db, policy, now, wc(*BASE, newbie))
    assert report.applied and report.refused is None
    async with db.uow() as s:
        e3 = await _emp(s, "E3")
        assert (e3.wecom_userid, e3.department, e3.manager_id) == ("wangwei", "研发部/后端组", "E2")
        new = await s.scalar(select(Employee).where(Employee.wecom_userid == "liuyang"))
        assert new is not None
        assert new.employee_id == "wc-liuyang" and new.manager_id == "E3" and new.active
        assert new.hire_date == TODAY  # a newcomer on a platform already in use is a new hire
    assert {c.action for c in report.changes} == {"update", "create"}
    # the same roster again changes nothing
    again = await run(db, policy, now, wc(*BASE, newbie))
    assert again.changes == []


async def test_move_department_change_manager_leave_and_rejoin(db: Database, policy: Policy,
                                                              now: datetime) -> None:
    await seed(db)
    await run(db, policy, now, wc(*BASE))
    moved = Member("wangwei", "王伟", "市场部", "chenjing", mobile="13800000003")
    report = await run(db, policy, now, wc(BASE[0], BASE[1], moved))
    fields = {k: (a, b) for c in report.changes for k, a, b in c.fields}
    assert fields == {"department": ("研发部/后端组", "市场部"), "manager_id": ("E2", "E1")}
    policy.directory.max_deactivate_percent = 50
    left = await run(db, policy, now, wc(BASE[0], moved))  # zhaolei left
    assert [(c.action, c.employee_id) for c in left.changes] == [("deactivate", "E2")]
    async with db.uow() as s:
        assert not (await _emp(s, "E2")).active  # deactivated, never deleted
    back = await run(db, policy, now, wc(*BASE[:2], moved))
    assert [(c.action, c.employee_id) for c in back.changes] == [("reactivate", "E2")]


async def test_guard_refuses_mass_deactivation_unless_forced(db: Database, policy: Policy,
                                                             now: datetime) -> None:
    await seed(db)
    await run(db, policy, now, wc(*BASE))
    report = await run(db, policy, now, wc(BASE[0]))  # 2 of 3 would leave: 66% > 10%
    assert report.refused and "max_deactivate_percent" in report.refused and not report.applied
    async with db.uow() as s:
        assert (await _emp(s, "E2")).active
    forced = await run(db, policy, now, wc(BASE[0]), force=True)
    assert forced.applied and forced.count("deactivate") == 2


async def test_empty_answer_never_deactivates(db: Database, policy: Policy, now: datetime) -> None:
    await seed(db)
    report = await run(db, policy, now, wc(), force=True)
    assert report.refused and "no members" in report.refused
    async with db.uow() as s:
        assert all(e.active for e in await s.scalars(select(Employee)))


async def test_dry_run_names_every_change_and_writes_nothing(db: Database, policy: Policy,
                                                             now: datetime) -> None:
    await seed(db)
    report = await run(db, policy, now, wc(*BASE, Member("liuyang", "刘洋")), dry_run=True)
    lines = [c.describe() for c in report.changes]
    assert any(line.startswith("create") and "刘洋" in line for line in lines)
    assert any("王伟 (E3)" in line and "138****0003" in line for line in lines)  # masked
    async with db.uow() as s:
        assert await s.scalar(select(Employee).where(Employee.wecom_userid == "liuyang")) is None


async def test_one_person_on_both_platforms_is_one_account(db: Database, policy: Policy,
                                                           now: datetime) -> None:
    await seed(db)
    await run(db, policy, now, wc(*BASE))
    ding = Roster("dingtalk", (Member("dt_ww", "王伟", "研发部", mobile="13800000003"),
                               Member("dt_cj", "陈静", email="CJ@example.com")))
    async with db.uow() as s:
        (await _emp(s, "E1")).email = "cj@example.com"
    await run(db, policy, now, ding)
    async with db.uow() as s:
        e3, e1 = await _emp(s, "E3"), await _emp(s, "E1")
        assert (e3.wecom_userid, e3.dingtalk_userid) == ("wangwei", "dt_ww")
        assert e1.dingtalk_userid == "dt_cj"
        assert await s.scalar(select(Employee).where(Employee.employee_id.like("dt-%"))) is None


async def test_leaver_expire_balance_and_approvals_move_to_manager(db: Database, policy: Policy,
                                                                   now: datetime) -> None:
    await seed(db)
    await run(db, policy, now, wc(*BASE, Member("liuyang", "刘洋", "研发部", "wangwei")))
    policy.directory.leaver_balance = "expire"

    async def setup(s):  # type: ignore[no-untyped-def]
        await ledger.credit(s, employee_id="E3", amount=80, key="g1", kind="grant", actor="t",
                            reason="r", now=now, policy=policy)
        await open_request(s, kind="application", subject_id="1", requester_id="wc-liuyang",
                           amount=10, summary="x", chain=["manager"], now=now)
    await db.run(setup)
    later = now + timedelta(hours=1)
    changes = await db.run(lambda s: remove_member(s, platform="wecom", user_id="wangwei",
                                                   policy=policy, now=later))
    assert [c.action for c in changes] == ["deactivate"]
    again = await db.run(lambda s: remove_member(s, platform="wecom", user_id="wangwei",
                                                 policy=policy, now=later))
    assert again == []  # a redelivered leave changes nothing
    async with db.uow() as s:
        assert (await ledger.balance(s, employee_id="E3", now=later)).balance == 0
        step = await s.scalar(select(ApprovalStep))
        assert step is not None
        assert step.approver_id == "E2"  # the leaver's manager
        pushes = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "approval_reassigned")))
        assert [p.recipient for p in pushes] == ["employee:E2"]
        assert await verify(s) == []


async def test_synced_new_hire_gets_the_new_hire_grant(db: Database, policy: Policy,
                                                       now: datetime) -> None:
    await seed(db)
    await run(db, policy, now, wc(*BASE))
    await db.run(lambda s: apply_member(s, platform="wecom", member=Member("newbie", "新人"),
                                        policy=policy, now=now, today=TODAY))
    grants = await db.run(lambda s: run_auto_grants(s, now=now, policy=policy))
    assert any(g.employee_id == "wc-newbie" and g.rule == "new_hire" for g in grants)
    async with db.uow() as s:
        assert await verify(s) == []


async def test_an_event_matches_by_mobile_then_email(db: Database, policy: Policy,
                                                     now: datetime) -> None:
    await seed(db)
    async with db.uow() as s:
        (await _emp(s, "E2")).email = "ZL@example.com"
    ww = Member("dt_ww", "王伟", mobile="13800000003")
    zl = Member("dt_zl", "赵磊", email="zl@EXAMPLE.com", manager_user_id="dt_unknown")
    for member in (ww, zl):
        async with db.uow() as s:
            await apply_member(s, platform="dingtalk", member=member, policy=policy, now=now,
                               today=TODAY)
    async with db.uow() as s:
        assert (await _emp(s, "E3")).dingtalk_userid == "dt_ww"
        e2 = await _emp(s, "E2")
        assert e2.dingtalk_userid == "dt_zl" and e2.manager_id == "E1"  # unknown boss: kept


async def test_every_applied_change_is_in_the_audit_log(db: Database, policy: Policy,
                                                        now: datetime) -> None:
    await seed(db)
    newbie = Member("liuyang", "刘洋", "研发部", "zhaolei", mobile="13900000007")
    await run(db, policy, now, wc(*BASE, newbie))
    async with db.uow() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.action.like("directory.%"))))
    actions = {(r.action, r.subject) for r in rows}
    assert ("directory.create", "employee:wc-liuyang") in actions
    assert ("directory.update", "employee:E3") in actions
    assert all("13900000007" not in (r.after or "") for r in rows)  # mobile masked
    await run(db, policy, now, wc(*BASE, newbie), dry_run=True)
    async with db.uow() as s:  # a dry run writes nothing, not even to the audit log
        again = list(await s.scalars(select(AuditEntry).where(AuditEntry.action.like("directory.%"))))
    assert len(again) == len(rows)
