"""Peer awards: validation, the monthly allowance, immediate credit or an approval chain.

An award is paid from the giver's monthly allowance, never from their balance. Small awards are
credited at once; larger ones hold their allowance until the approval chain ends, when
``finalize`` credits (allowance spent) or releases it. Concurrent gives by one giver serialize
on the giver's directory row, so two of them can never both spend the last of the allowance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from core import columns, errors
from core.approvals.finalizers import Outcome, register
from core.approvals.service import open_request
from core.awards.rules import check_reason
from core.awards.schemas import AllowanceStatus, AwardResult, AwardView
from core.directory.service import (
    PERSON,
    Person,
    department_if_shared,
    fact_columns,
    person,
    remember_facts,
    roles_from,
)
from core.directory.service import get as get_employee
from core.idempotency import remember, written
from core.ledger.service import Balance, balance_of, credit, spendable
from core.models import Account, AllowanceUse, Award, Employee, IdempotencyKey, Lot
from core.outbox import Recipient, queue
from core.policy import Policy
from core.rows import table_of
from core.timeutil import day_key, month_key

__all__ = [
    "AllowanceStatus", "AwardResult", "AwardView", "allowance_status", "balance_and_allowance",
    "finalize", "give", "give_locked", "lock_and_recall", "pay",
]

COUNTED = ("held", "spent")  # released allowance is free again
LIVE_AWARDS = ("pending", "approved")  # rejected awards do not count towards the pair limit


def _one_of(column: SQLCoreOperations[str], values: tuple[str, ...]) -> ColumnElement[bool]:
    """``column IN (…)`` with a parameter per value: a list of plain values becomes one
    "expanding" parameter, whose placeholders are written into the SQL on every execution."""
    return column.in_([literal(v) for v in values])


# The statements of the award path and of the allowance read are built once, with bind
# parameters (giver, month, day, record, ids): building one per call cost more Python time than
# running it, and a prebuilt statement's cache key is memoized (see core.ledger.service).
# The giver's allowance used in the month.
_USED = (select(func.coalesce(func.sum(AllowanceUse.amount), 0))
         .where(AllowanceUse.giver_id == bindparam("giver"),
                AllowanceUse.month == bindparam("month"), _one_of(AllowanceUse.status, COUNTED))
         .scalar_subquery())
# The giver's live awards on the day to the employee of the enclosing row.
_PAIR = (select(func.count()).select_from(Award)
         .where(Award.giver_id == bindparam("giver"), Award.day == bindparam("day"),
                _one_of(Award.status, LIVE_AWARDS), Award.recipient_id == Employee.employee_id)
         .scalar_subquery())
_RECORD = (select(IdempotencyKey.result).where(IdempotencyKey.key == bindparam("record"))
           .scalar_subquery())
_IDS = Employee.employee_id.in_(bindparam("ids", expanding=True))
_FACTS = fact_columns()
# The giver and the recipients are read as plain columns (``Person``), never as ORM objects.
# FOR NO KEY UPDATE: award rows referencing this employee take KEY SHARE locks on it (FK), so
# a plain FOR UPDATE would deadlock two people giving to each other at the same moment.
_N = len(PERSON)
# SQLite: the giver and the recipients, locked, with everything read in one statement
_LOCK_READ = {counted: select(*PERSON, *_FACTS, _RECORD, *((_USED, _PAIR) if counted else ()))
              .where(_IDS).with_for_update(key_share=True) for counted in (False, True)}
# PostgreSQL: the giver locked, then the rest read after the lock
_LOCK = (select(*PERSON, *_FACTS).where(Employee.employee_id == bindparam("giver"))
         .with_for_update(key_share=True))
_AFTER_LOCK = {counted: select(*PERSON, _RECORD, *((_USED, _PAIR) if counted else ())).where(_IDS)
               for counted in (False, True)}
_RECIPIENTS = select(*PERSON, _USED, _PAIR).where(_IDS)
_ALLOWANCE_USED = select(_USED)
_REPORTS = select(func.count()).select_from(Employee).where(
    Employee.manager_id == bindparam("giver"), Employee.active.is_(True))
_AWARD = select(Award).where(Award.id == bindparam("award")).execution_options(
    populate_existing=True)
# The balance reply: the employee's spendable lots, soonest expiry first, and the allowance
# used this month. A row per lot, or one row without a lot; none for an unknown employee.
_BALANCE_AND_USED = (
    select(Lot.remaining, Lot.expires_at, _USED, Employee.roles).select_from(Employee)
    .outerjoin(Account, Account.employee_id == Employee.employee_id)
    .outerjoin(Lot, and_(Lot.account_id == Account.id, spendable(bindparam("now"))))
    .where(Employee.employee_id == bindparam("giver"))
    .order_by(Lot.expires_at, Lot.id))


async def _limit(session: AsyncSession, giver_id: str, declared: str,
                 policy: Policy) -> tuple[int, int]:
    """(limit, active direct reports): the role's allowance plus ``per_report`` per report;
    ``declared`` is the giver's ``Employee.roles`` value."""
    roles = await roles_from(session, giver_id, declared)
    by_role = [n for role, n in policy.allowance.by_role.items() if role in roles]
    base = max(by_role) if by_role else policy.allowance.monthly
    if not policy.allowance.per_report:
        return base, 0
    reports = int(await columns.scalar(session, _REPORTS, {"giver": giver_id}) or 0)
    return base + reports * policy.allowance.per_report, reports


async def allowance_status(
    session: AsyncSession, *, giver_id: str, now: datetime, policy: Policy
) -> AllowanceStatus:
    """This local month's giving allowance: limit (by role, plus ``allowance.per_report`` per
    active direct report), used (held + spent) and left."""
    giver = await get_employee(session, giver_id)
    month = month_key(now, policy)
    used = int(await columns.scalar(session, _ALLOWANCE_USED,
                                    {"giver": giver_id, "month": month}) or 0)
    return await _status(session, giver.employee_id, giver.roles, month, used, policy)


async def balance_and_allowance(
    session: AsyncSession, *, employee_id: str, now: datetime, policy: Policy,
) -> tuple[Balance, AllowanceStatus]:
    """``ledger.balance`` and ``allowance_status`` of one employee (the balance reply): the lots
    and the allowance used come in one statement, where they were two. No writes."""
    month = month_key(now, policy)
    rows = await columns.rows(session, _BALANCE_AND_USED,
                              {"giver": employee_id, "month": month, "now": now})
    if not rows:
        raise errors.UnknownEmployee(who=employee_id)
    bal = balance_of(employee_id, [row for row in rows if row[0] is not None])
    used, declared = int(rows[0][2] or 0), rows[0][3]
    return bal, await _status(session, employee_id, declared, month, used, policy)


async def _status(session: AsyncSession, giver_id: str, declared: str, month: str, used: int,
                  policy: Policy) -> AllowanceStatus:
    limit, reports = await _limit(session, giver_id, declared, policy)
    return AllowanceStatus(month=month, limit=limit, used=used, left=max(limit - used, 0),
                           reports=reports, per_report=policy.allowance.per_report)


Counts = tuple[dict[str, Person], int, dict[str, int]]  # employees found, allowance used, pairs


async def _lock_giver(
    session: AsyncSession, giver_id: str, record: str,
    recipients: tuple[list[str], datetime, Policy] | None = None,
) -> tuple[Person, dict[str, Any] | None, Counts | None]:
    """The giver, locked, with their directory facts (reports, namesake: ``fact_columns``), the
    result stored under ``record`` if any and, given ``recipients`` (ids, now, policy), what
    ``_recipients_and_counts`` reads. On SQLite all in one statement: the transaction holds the
    write lock from ``BEGIN IMMEDIATE`` on, so what it reads is current. On PostgreSQL the rest
    is a second statement, after the lock: a statement's snapshot is taken before it waits for a
    row lock, so it would miss a twin that held the lock and committed meanwhile."""
    one_statement = session.get_bind().dialect.name == "sqlite"
    await written(session)  # _RECORD reads a record remembered earlier in this unit of work
    if session.new or session.dirty:  # a select of columns does not flush the ORM's changes
        await session.flush()
    params: dict[str, Any] = {"record": record, "ids": [giver_id]}
    if recipients is not None:
        recipient_ids, now, policy = recipients
        params.update(_count_params(giver_id, now, policy), ids=[giver_id, *recipient_ids])
    counted = recipients is not None
    locked = await columns.rows(session, _LOCK_READ[counted] if one_statement else _LOCK,
                                params if one_statement else {"giver": giver_id})
    giver_row = next((r for r in locked if r[0] == giver_id), None)
    if giver_row is None:
        raise errors.UnknownEmployee(who=giver_id)
    giver = person(giver_row)
    remember_facts(session, giver_id, giver_row[_N], giver_row[_N + 1])
    if not giver.active:
        raise errors.InactiveEmployee(who=giver.name)
    # (person, record, allowance used, live awards to them today) per row
    rows = [(person(r), *r[_N + 2:]) for r in locked] if one_statement else [
        (person(r), *r[_N:]) for r in await columns.rows(session, _AFTER_LOCK[counted], params)]
    mine = next((r for r in rows if r[0].employee_id == giver_id), None)
    if mine is None:  # gone since the lock (PostgreSQL)
        raise errors.UnknownEmployee(who=giver_id)
    done = None if mine[1] is None else dict(json.loads(mine[1]))
    if recipients is None:
        return giver, done, None
    counts = ({r[0].employee_id: r[0] for r in rows}, int(mine[2] or 0),
              {r[0].employee_id: int(r[3] or 0) for r in rows})
    return giver, done, counts


def _count_params(giver_id: str, now: datetime, policy: Policy) -> dict[str, str]:
    """The values of ``_USED`` and ``_PAIR``: the giver, this local month and day."""
    return {"giver": giver_id, "month": month_key(now, policy), "day": day_key(now, policy)}


async def _recipients_and_counts(
    session: AsyncSession, giver_id: str, recipient_ids: list[str], now: datetime, policy: Policy,
) -> Counts:
    """The recipients found, the allowance used this month and each recipient's live awards
    from the giver today: one statement (a row per recipient with scalar subqueries) for what
    were a read per recipient and two counts."""
    rows = await columns.rows(session, _RECIPIENTS,
                              {**_count_params(giver_id, now, policy), "ids": recipient_ids})
    found = {row[0]: person(row) for row in rows}
    used = int(rows[0][_N] or 0) if rows else 0
    return found, used, {row[0]: int(row[_N + 1] or 0) for row in rows}


def _check_pairs(recipients: list[Person], counts: dict[str, int], policy: Policy) -> None:
    limit = policy.award.max_per_pair_per_day
    for recipient in recipients:
        if counts[recipient.employee_id] >= limit:
            raise errors.PairLimit(who=recipient.name, limit=limit)


def _active(found: dict[str, Person], employee_id: str) -> Person:
    emp = found.get(employee_id)
    if emp is None:
        raise errors.UnknownEmployee(who=employee_id)
    if not emp.active:
        raise errors.InactiveEmployee(who=emp.name)
    return emp


async def _validate(
    session: AsyncSession, giver: Person, recipient_ids: list[str], amount: int, reason: str,
    now: datetime, policy: Policy, counts: Counts | None,
) -> tuple[list[Person], list[str], int]:
    """Recipients (active, distinct, not the giver), the reason's value hashtags and the
    allowance used this month, or a refusal (the pair limit's included). ``counts``: read
    already, with the giver (``_lock_giver``)."""
    if amount <= 0:
        raise errors.InvalidAmount(amount=amount)
    if not recipient_ids:
        raise errors.NoRecipients()
    if len(set(recipient_ids)) != len(recipient_ids):
        raise errors.DuplicateRecipients()
    if giver.employee_id in recipient_ids:
        raise errors.SelfAward()
    found, used, pairs = counts or await _recipients_and_counts(
        session, giver.employee_id, recipient_ids, now, policy)
    recipients = [_active(found, rid) for rid in recipient_ids]
    tags = check_reason(reason, policy.award)
    _check_pairs(recipients, pairs, policy)
    return recipients, tags, used


async def give(
    session: AsyncSession, *, giver_id: str, recipient_ids: list[str], amount: int, reason: str,
    key: str, now: datetime, policy: Policy, record: bool = True,
) -> AwardResult:
    """Award ``amount`` to each recipient from the giver's allowance (costs amount × people).

    Every refusal (InvalidAmount, InvalidInput, SelfAward, UnknownEmployee, InactiveEmployee,
    ReasonTooShort, ValueRequired, UnknownValue, PairLimit, InsufficientAllowance, NoApprover)
    is raised before anything is written. A repeated ``key`` returns the first result unchanged.
    ``record=False``: the caller records ``key``'s work itself, in this transaction (a chat
    message's event row), so no second record of the result is kept under it.
    """
    giver, done, counts = await _lock_giver(session, giver_id, f"give:{key}",
                                            (recipient_ids, now, policy))
    if done is not None:
        return AwardResult.from_dict(done)
    return await give_locked(session, giver=giver, recipient_ids=recipient_ids, amount=amount,
                             reason=reason, key=key, now=now, policy=policy, counts=counts,
                             record=record)


async def lock_and_recall(
    session: AsyncSession, *, giver_id: str, key: str
) -> tuple[Person, AwardResult | None]:
    """Lock the giver's row; the stored result if ``key`` was already given (a redelivery)."""
    # looked up after (or with) the lock: a twin that held it has committed, and its result is
    # visible here
    giver, done, _counts = await _lock_giver(session, giver_id, f"give:{key}")
    return giver, None if done is None else AwardResult.from_dict(done)


async def give_locked(
    session: AsyncSession, *, giver: Person, recipient_ids: list[str], amount: int,
    reason: str, key: str, now: datetime, policy: Policy, joined_from: int | None = None,
    counts: Counts | None = None, record: bool = True,
) -> AwardResult:
    """``give`` once the giver is locked and ``key`` is known to be new (see lock_and_recall).
    ``counts``: the recipients and counts, read with the giver (``_lock_giver``)."""
    recipients, tags, used = await _validate(session, giver, recipient_ids, amount, reason, now,
                                             policy, counts)
    allowance = await _status(session, giver.employee_id, giver.roles, month_key(now, policy),
                              used, policy)
    need = amount * len(recipients)
    if need > allowance.left:
        raise errors.InsufficientAllowance(left=allowance.left, need=need)
    views = [await _award_one(session, giver, recipient, amount, reason, tags, key, now, policy,
                              joined_from) for recipient in recipients]
    result = AwardResult(batch=key, awards=views, allowance_left=allowance.left - need)
    if record:
        await remember(session, f"give:{key}", result.to_dict(), now=now)
    return result


@dataclass(frozen=True)
class _Paid:
    """What paying an award reads of it: its row's values (``pay``)."""
    id: int
    giver_id: str
    recipient_id: str
    amount: int
    reason: str
    hashtags: str
    joined_from: int | None

    @classmethod
    def of(cls, award: Award) -> _Paid:
        return cls(award.id, award.giver_id, award.recipient_id, award.amount, award.reason,
                   award.hashtags, award.joined_from)


# The award's rows are plain inserts (no ORM objects: nothing in the unit of work reads them
# back as objects, and making and registering two objects per award cost more than their
# statements); on a SQLite lane they run in place (core.direct).
_AWARDS = table_of(Award)
_INSERT_AWARD = insert(_AWARDS).returning(_AWARDS.c.id)
_INSERT_USE = insert(table_of(AllowanceUse))
_SET_APPROVAL = (update(_AWARDS).where(_AWARDS.c.id == bindparam("award"))
                 .values(approval_id=bindparam("approval")))


async def _award_one(
    session: AsyncSession, giver: Person, recipient: Person, amount: int, reason: str,
    tags: list[str], batch: str, now: datetime, policy: Policy, joined_from: int | None,
) -> AwardView:
    # a small award is paid at once: its rows are written in their final state (no updates)
    at_once = amount <= policy.award.approval_threshold
    reason, hashtags = reason[:500], " ".join(tags)[:200]
    ((award_id,),) = await columns.inserted(session, _INSERT_AWARD, [{
        "batch": batch[:200], "giver_id": giver.employee_id, "recipient_id": recipient.employee_id,
        "amount": amount, "reason": reason, "hashtags": hashtags,
        "status": "approved" if at_once else "pending", "day": day_key(now, policy),
        "created_at": now, "joined_from": joined_from, "approval_id": None}])
    await columns.execute(session, _INSERT_USE, {
        "giver_id": giver.employee_id, "month": month_key(now, policy), "amount": amount,
        "status": "spent" if at_once else "held", "award_id": award_id})
    approval_id = None
    if at_once:
        await _pay(session, _Paid(award_id, giver.employee_id, recipient.employee_id, amount,
                                 reason, hashtags, joined_from), now, policy, settled=True,
                   giver=giver)
    else:
        chains = policy.approvals.chains
        chain = chains.award_large if amount > policy.award.hr_threshold else chains.award
        req = await open_request(session, kind="award", subject_id=str(award_id),
                                 requester_id=giver.employee_id, amount=amount,
                                 summary=f"@{recipient.name} {reason}", chain=list(chain), now=now)
        approval_id = req.id
        await columns.execute(session, _SET_APPROVAL, {"award": award_id, "approval": req.id})
    return AwardView(award_id=award_id, recipient_id=recipient.employee_id,
                     recipient_name=recipient.name, amount=amount,
                     status="approved" if at_once else "pending", approval_id=approval_id,
                     joined_from=joined_from)


_SET_USE = (update(AllowanceUse).where(AllowanceUse.award_id == bindparam("award"))
            .values(status=bindparam("status")).execution_options(synchronize_session=False))


async def _set_use(session: AsyncSession, award_id: int, status: str) -> None:
    await session.execute(_SET_USE, {"award": award_id, "status": status})


async def pay(session: AsyncSession, award: Award, now: datetime, policy: Policy) -> None:
    """Approve a loaded award and pay it (the end of its approval chain, an appeal upheld):
    its allowance is spent, the recipient credited and told."""
    award.status = "approved"
    await _set_use(session, award.id, "spent")
    await _pay(session, _Paid.of(award), now, policy)


async def _pay(session: AsyncSession, award: _Paid, now: datetime, policy: Policy, *,
               settled: bool = False, giver: Person | Employee | None = None) -> None:
    """Credit the recipient (key ``award:<id>``) and tell the recipient (for a +1, also who gave
    the award it joined). ``settled``: the award and its allowance use were written in this
    transaction, approved / spent already. ``giver``: read already (else looked up)."""
    await credit(session, employee_id=award.recipient_id, amount=award.amount,
                 key=f"award:{award.id}", kind="award", actor=award.giver_id, reason=award.reason,
                 now=now, policy=policy, ref=f"award:{award.id}", new_key=settled)
    if giver is None:
        giver = await get_employee(session, award.giver_id)
    shared = await department_if_shared(session, giver)  # 王伟（研发部） when two share the name
    # settled: the award row is new in this transaction, so its push key is too (no lookup; the
    # row goes in at commit with the event's replies, in one statement)
    await queue(session, recipient=Recipient.employee(award.recipient_id), kind="award_received",
                now=now, dedupe_key=f"award-received:{award.id}", fresh=settled,
                payload={"award_id": award.id, "giver_id": giver.employee_id,
                         "giver_name": giver.name, "amount": award.amount, "reason": award.reason,
                         "hashtags": award.hashtags.split()} | await _joined_payload(session, award)
                | ({"giver_department": shared} if shared else {}))
    await session.flush()


async def _joined_payload(session: AsyncSession, award: _Paid) -> dict[str, object]:
    if award.joined_from is None:
        return {}
    first = await session.get(Award, award.joined_from)
    if first is None:
        return {}
    original = await get_employee(session, first.giver_id)
    return {"joined_from": first.id, "original_giver_id": original.employee_id,
            "original_giver_name": original.name}


async def finalize(
    session: AsyncSession, *, award_id: int, approved: bool, actor_id: str, now: datetime,
    policy: Policy,
) -> None:
    """End of the award's approval chain: approved → credit once and spend the allowance;
    rejected → release the allowance. A second call for a decided award changes nothing."""
    award = await session.scalar(_AWARD, {"award": award_id})
    if award is None or award.status != "pending":
        return
    if approved:
        await pay(session, award, now, policy)
        return
    award.status = "rejected"
    await _set_use(session, award.id, "released")
    await session.flush()


async def _finalize_outcome(session: AsyncSession, outcome: Outcome) -> None:
    await finalize(session, award_id=int(outcome.subject_id), approved=outcome.approved,
                   actor_id=outcome.actor_id, now=outcome.now, policy=outcome.policy)


async def _recipient(session: AsyncSession, subject_id: str) -> str | None:
    award = await session.get(Award, int(subject_id)) if subject_id.isdigit() else None
    return award.recipient_id if award is not None else None


register("award", _finalize_outcome, owner=_recipient)
