"""Directory lookups and resolution of ``<who>`` (SPEC section 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, event, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, aliased
from sqlalchemy.sql.expression import BindParameter, Exists

from core import columns, errors
from core.errors import Candidate
from core.models import Employee
from core.models.directory import WITH_ROLES, declared_roles


async def get(session: AsyncSession, employee_id: str) -> Employee:
    """The employee or UnknownEmployee."""
    emp = await session.get(Employee, employee_id)
    if emp is None:
        raise errors.UnknownEmployee(who=employee_id)
    return emp


async def get_active(session: AsyncSession, employee_id: str) -> Employee:
    emp = await get(session, employee_id)
    if not emp.active:
        raise errors.InactiveEmployee(who=emp.name)
    return emp


# "Has active reports" (the derived manager role) is remembered for the rest of the unit of
# work, so identifying the sender and checking their roles again in a service cost one statement.
# It is never kept across transactions (a replica must not authorize on another's stale view),
# and any flush that touches an Employee row forgets it.
_REPORTS = "jifen.has_reports"
# Whether another active employee has the same name (``department_if_shared``): the same rules.
_NAMESAKES = "jifen.has_namesake"


def _reports_cache(session: AsyncSession | Session) -> dict[str, bool]:
    cache: dict[str, bool] = session.info.setdefault(_REPORTS, {})
    return cache


def _namesake_cache(session: AsyncSession | Session) -> dict[str, bool]:
    cache: dict[str, bool] = session.info.setdefault(_NAMESAKES, {})
    return cache


@event.listens_for(Session, "after_flush")
def _forget_on_directory_write(session: Session, _ctx: object) -> None:
    if (_REPORTS in session.info or _NAMESAKES in session.info) and any(
            isinstance(o, Employee) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(_REPORTS, None)
        session.info.pop(_NAMESAKES, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, tx: SessionTransaction) -> None:
    # the outer transaction (every flush ends an inner one of its own), or a savepoint: one
    # rolled back may have undone the rows a remembered fact was read from
    if tx.parent is None or tx.nested:
        session.info.pop(_REPORTS, None)
        session.info.pop(_NAMESAKES, None)


# One alias for the module: building an alias copies every column of the table (15 proxies),
# which cost ~8 % of a `积分`'s CPU when it was made per event (cProfile of B2).
_REPORT = aliased(Employee)
_NAMESAKE = aliased(Employee)


def _reports_exist(employee_id: Any) -> Exists:
    return exists().where(_REPORT.manager_id == employee_id, _REPORT.active.is_(True))


def _namesake_exists(employee_id: Any, name: Any) -> Exists:
    return exists().where(_NAMESAKE.name == name, _NAMESAKE.employee_id != employee_id,
                          _NAMESAKE.active.is_(True))


def fact_columns() -> tuple[Exists, Exists]:
    """Two columns to select next to an ``Employee`` row: has active reports (the derived
    manager role), has an active namesake; hand them to ``remember_facts``, so ``roles_of`` and
    ``department_if_shared`` need no statement of their own in this unit of work."""
    return (_reports_exist(Employee.employee_id),
            _namesake_exists(Employee.employee_id, Employee.name))


def remember_facts(session: AsyncSession, employee_id: str, reports: object,
                   namesake: object) -> None:
    _reports_cache(session)[employee_id] = bool(reports)
    _namesake_cache(session)[employee_id] = bool(namesake)


@dataclass(frozen=True)
class Person:
    """An employee as a hot path reads one: five plain columns (``PERSON``), not an ORM object.
    Loading ``Employee`` objects (their identity map entries, attribute state and the ORM's
    loading context, refreshed under a lock) cost a chat award more than its six inserts; the
    award path reads these columns and writes none of them."""
    employee_id: str
    name: str
    department: str | None
    roles: str
    active: bool


PERSON = (Employee.employee_id, Employee.name, Employee.department, Employee.roles,
          Employee.active)
"""The columns of a ``Person``, first in a select (``person(row)``)."""


def person(row: Sequence[Any]) -> Person:
    """The ``Person`` of a row that begins with the ``PERSON`` columns."""
    return Person(row[0], row[1], row[2], row[3], bool(row[4]))


# The statements asked on every event are built once and executed with parameters: building
# one per call (argument coercion, cache key) cost more CPU than running it.
_HAS_REPORTS = select(_reports_exist(bindparam("employee_id")))
_HAS_NAMESAKE = select(_namesake_exists(bindparam("employee_id"), bindparam("name")))
# how each platform names an employee (the playground by the employee id itself)
_USER_ID = {"wecom": Employee.wecom_userid, "dingtalk": Employee.dingtalk_userid,
            "playground": Employee.employee_id}
_BY_PLATFORM_ID = {
    platform: select(Employee, _reports_exist(Employee.employee_id))
    .where(column == bindparam("user_id")) for platform, column in _USER_ID.items()}


async def has_reports(session: AsyncSession, employee_id: str) -> bool:
    cache = _reports_cache(session)
    if employee_id not in cache:
        cache[employee_id] = bool(await columns.scalar(session, _HAS_REPORTS,
                                                       {"employee_id": employee_id}))
    return cache[employee_id]


async def roles_of(session: AsyncSession, emp: Employee) -> set[str]:
    """Declared roles plus ``employee`` for everyone and ``manager`` for anyone with reports."""
    return await roles_from(session, emp.employee_id, emp.roles)


async def roles_from(session: AsyncSession, employee_id: str, declared: str) -> set[str]:
    """``roles_of`` from the id and the ``Employee.roles`` value, for callers that read them as
    plain columns."""
    roles = declared_roles(declared)
    if await has_reports(session, employee_id):
        roles.add("manager")
    return roles


@dataclass(frozen=True)
class Sender:
    """Who sent an event, as every event needs them: id, language, state and roles (declared,
    ``employee`` for everyone, ``manager`` with active reports). Plain values: a service that
    shows or changes the employee loads the row itself."""

    employee_id: str
    locale: str
    active: bool
    roles: frozenset[str]


# Plain columns, no ORM entity: loading an ``Employee`` object cost ~35 % of the reading
# lane's CPU per `积分` (identity map, loading context, instance state), and only these
# four values and the manager flag are used by the dispatcher and the read-only commands.
_SENDER = {
    platform: select(Employee.employee_id, Employee.locale, Employee.active, Employee.roles,
                     _reports_exist(Employee.employee_id)).where(column == bindparam("user_id"))
    for platform, column in _USER_ID.items()}


async def sender(session: AsyncSession, *, platform: str, user_id: str) -> Sender | None:
    """The sender of an event by the platform's user id (the employee id in the playground);
    one statement, and whether they have reports is remembered for the unit of work."""
    found = await columns.rows(session, _SENDER[platform], {"user_id": user_id})
    if not found:
        return None
    employee_id, locale, active, roles, reports = found[0]
    _reports_cache(session)[employee_id] = bool(reports)
    manager = {"manager"} if reports else set()
    return Sender(employee_id, locale, bool(active), frozenset(declared_roles(roles) | manager))


async def by_platform_id(session: AsyncSession, *, platform: str, user_id: str) -> Employee | None:
    """The employee with this platform user id; whether they have reports comes in the same
    statement (every event asks for the sender's roles next)."""
    row = (await session.execute(_BY_PLATFORM_ID[platform], {"user_id": user_id})).first()
    if row is None:
        return None
    emp, has = row
    _reports_cache(session)[emp.employee_id] = bool(has)
    return emp


# every exact way of naming someone in one statement, each row flagged with the ways it matches;
# the order of preference (id, platform id, full name, then first name) is applied in
# ``resolve``. Plain columns, not the mapped class: only the chosen one's id leaves, and loading
# every candidate as an ORM object cost about a third of a chat award's Python work. The first
# name (a prefix of the lowered name) is a second statement, sent only when nobody is named
# exactly: no index serves ``lower(name) LIKE 'x %'``, and in the same statement its OR made
# every ``@someone`` read the whole directory inside the award's write transaction (on SQLite,
# ~100 µs with 200 employees, growing with the company).
_TOKEN: BindParameter[str] = bindparam("token")
_EXACT = (Employee.employee_id == _TOKEN,
          or_(Employee.wecom_userid == _TOKEN, Employee.dingtalk_userid == _TOKEN),
          Employee.name == _TOKEN)
_PERSON = (Employee.employee_id, Employee.name, Employee.department, Employee.active)
_ORDER = (Employee.active.desc(), Employee.employee_id)
_RESOLVE = (select(*_PERSON, *(case((w, True), else_=False) for w in _EXACT))
            .where(or_(*_EXACT)).order_by(*_ORDER))
_FIRST_NAME = (select(*_PERSON)
               .where(func.lower(Employee.name).startswith(bindparam("prefix"), escape="/"))
               .order_by(*_ORDER))
_FLAGS = len(_PERSON)  # the columns before the flags


async def resolve(session: AsyncSession, who: str, *, sender: str | None = None) -> str:
    """The employee id of the one employee ``who`` names: by id, WeCom/DingTalk user id, exact
    name or first name (a leading @ is ignored): "Alice" finds "Alice Chen" when she is the only
    one whose name starts with that word.

    A name shared by several people raises AmbiguousName with the candidates; nothing is guessed.
    The ``sender`` is never a candidate: they cannot mean themselves, so when the other one is
    left, that is who they mean.
    """
    token = who.strip().lstrip("@＠").strip()
    if not token:
        raise errors.UnknownEmployee(who=who)
    rows = await columns.rows(session, _RESOLVE, {"token": token})
    for way in range(len(_EXACT)):
        matching = [row for row in rows if row[_FLAGS + way]]
        found = matching[0] if way < 2 and matching else _one_named(token, matching, sender)
        if found is not None:
            return str(found[0])
    # what autoescape=True does to a literal; the statement is built once, with a parameter
    prefix = token.lower().replace("/", "//").replace("%", "/%").replace("_", "/_") + " "
    found = _one_named(token, list(await columns.rows(session, _FIRST_NAME, {"prefix": prefix})),
                       sender)
    if found is not None:
        return str(found[0])
    raise errors.UnknownEmployee(who=token)


def _one_named(token: str, everyone: list[Any], sender: str | None) -> Any | None:
    """Of the rows (id, name, department, active, …) matching a name: the one meant, None if
    none, AmbiguousName if several active ones are left."""
    # only the sender has that name: return them, so the self-award rule answers
    named = [e for e in everyone if e[0] != sender] or everyone
    active = [e for e in named if e[3]] or named
    if len(active) > 1:
        raise errors.AmbiguousName(
            who=token, candidates=[Candidate(e[0], e[1], e[2]) for e in active])
    return active[0] if active else None


# ``roles`` is a "|"-separated column, so the LIKE only narrows (``role_holders`` checks each);
# the literal WITH_ROLES lets both databases read the partial index ix_employees_with_roles
_ROLE_HOLDERS = (select(Employee)
                 .where(Employee.active.is_(True), text(f"employees.{WITH_ROLES}"),
                        Employee.roles.contains(bindparam("role")))
                 .order_by(Employee.employee_id))


async def role_holders(session: AsyncSession, role: str) -> list[Employee]:
    """Active employees with the declared ``role``, by employee id; reads only the rows of
    employees who hold any role."""
    return [e for e in await session.scalars(_ROLE_HOLDERS, {"role": role}) if role in e.role_set]


async def department_if_shared(session: AsyncSession, employee: Employee | Person) -> str | None:
    """The employee's department when another active employee has the same name, else None: a
    card then says 王伟（研发部） where 王伟 alone would not tell who."""
    cache = _namesake_cache(session)
    if employee.employee_id not in cache:
        cache[employee.employee_id] = bool(await columns.scalar(
            session, _HAS_NAMESAKE, {"employee_id": employee.employee_id, "name": employee.name}))
    return employee.department if cache[employee.employee_id] else None


async def departments(session: AsyncSession) -> list[str]:
    """The departments of active employees, sorted."""
    return sorted(d for d in await session.scalars(
        select(Employee.department).where(Employee.active.is_(True)).distinct()) if d)


def mask_mobile(value: str | None) -> str:
    """``13812341234`` → ``138****1234``: keeps the first 3 and last 4 digits of long numbers."""
    if not value:
        return ""
    if len(value) < 8:  # too short to show 7 digits and still hide anything
        return "*" * len(value)
    return value[:3] + "****" + value[-4:]


def mask_email(value: str | None) -> str:
    """``zhangsan@corp.com`` → ``z***@corp.com``."""
    if not value:
        return ""
    local, at, domain = value.partition("@")
    if not at:
        return local[:1] + "***"
    return f"{local[:1]}***@{domain}"


async def count(session: AsyncSession) -> int:
    """Employees on record, active or not (the demo loads only into an empty directory)."""
    return int(await session.scalar(select(func.count()).select_from(Employee)) or 0)


async def all_ids(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Employee.employee_id).order_by(Employee.employee_id)))


async def active_with_roles(session: AsyncSession) -> list[tuple[Employee, set[str]]]:
    """Every active employee with their roles, ``manager`` derived from having active reports,
    in two statements (the playground's "act as" list)."""
    people = list(await session.scalars(
        select(Employee).where(Employee.active.is_(True)).order_by(Employee.employee_id)))
    managers = set(await session.scalars(
        select(Employee.manager_id).where(Employee.active.is_(True)).distinct()))
    return [(e, e.role_set | ({"manager"} if e.employee_id in managers else set())) for e in people]
