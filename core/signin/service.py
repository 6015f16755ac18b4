"""One-time sign-in links and sessions, as rows shared by every replica.

Raw tokens and session ids are random 256-bit values handed to the browser once; the database
keeps only HMAC-SHA256(secret key, value), so the secret key both signs and verifies them and a
changed key ends every link and session. Roles and the employee's active flag are read on every
``session_employee`` call, so a deactivated employee or a removed role takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import errors
from core.directory.service import get_active, roles_of
from core.models import Employee, LoginToken, WebSecret, WebSession

LINK_MINUTES = 10
SESSION_HOURS = {"admin": 8, "mall": 30 * 24}
STAFF_ROLES = frozenset({"hr", "admin"})
SECRET_NAME = "secret_key"


@dataclass(frozen=True)
class Signed:
    """Who a valid session belongs to, with roles as read now from the directory."""

    employee: Employee
    roles: frozenset[str]
    kind: str

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


async def secret_key(session: AsyncSession, configured: str | None) -> str:
    """The configured key, else the one kept in the database (created by the first replica)."""
    if configured:
        return configured
    found = await session.get(WebSecret, SECRET_NAME)
    if found is not None:
        return found.value
    try:
        async with session.begin_nested():  # a second replica racing us loses the insert only
            session.add(WebSecret(name=SECRET_NAME, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass
    row = await session.scalar(select(WebSecret).where(WebSecret.name == SECRET_NAME)
                               .execution_options(populate_existing=True))
    assert row is not None
    return row.value


def digest(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def csrf_token(key: str, session_id: str) -> str:
    """Derived from the session id, so it needs no storage and dies with the session."""
    return digest(key, f"csrf:{session_id}")


def csrf_ok(key: str, session_id: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(key, session_id), given or "")


async def issue_link(
    session: AsyncSession, *, employee_id: str, purpose: str, key: str, now: datetime,
) -> str:
    """A raw one-time token valid LINK_MINUTES; ``admin`` links only for active hr / admin."""
    emp = await get_active(session, employee_id)
    if purpose == "admin" and not (await roles_of(session, emp)) & STAFF_ROLES:
        raise errors.Forbidden(action="console", actor=employee_id)
    token = secrets.token_urlsafe(32)
    session.add(LoginToken(token_hash=digest(key, token), employee_id=emp.employee_id,
                           purpose=purpose, expires_at=now + timedelta(minutes=LINK_MINUTES),
                           created_at=now))
    await session.flush()
    return token


async def redeem_link(
    session: AsyncSession, *, token: str, purpose: str, key: str, now: datetime,
) -> str:
    """Use the link once and open a session; returns the raw session id.

    LinkInvalid (unknown or for another purpose), LinkUsed, LinkExpired or InactiveEmployee;
    a refused link changes nothing. Two clicks racing: the conditional update lets one win.
    """
    found = await session.get(LoginToken, digest(key, token)) if token else None
    if found is None or found.purpose != purpose:
        raise errors.LinkInvalid()
    if found.used_at is not None:
        raise errors.LinkUsed(used_at=found.used_at)
    if now >= found.expires_at:
        raise errors.LinkExpired(expires_at=found.expires_at)
    await get_active(session, found.employee_id)
    claimed = await session.execute(
        update(LoginToken).where(LoginToken.token_hash == found.token_hash,
                                 LoginToken.used_at.is_(None)).values(used_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.LinkUsed(used_at=now)
    return await open_session(session, employee_id=found.employee_id, kind=purpose, key=key, now=now)


async def open_session(
    session: AsyncSession, *, employee_id: str, kind: str, key: str, now: datetime,
) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=digest(key, raw), employee_id=employee_id, kind=kind,
                           expires_at=now + timedelta(hours=SESSION_HOURS[kind]), created_at=now))
    await session.flush()
    return raw


async def session_employee(
    session: AsyncSession, *, session_id: str, kind: str, key: str, now: datetime,
) -> Signed | None:
    """The signed-in employee, or None if the session is unknown, ended, expired, of another
    kind, or its employee is no longer active."""
    row = await session.get(WebSession, digest(key, session_id)) if session_id else None
    if row is None or row.kind != kind or row.ended_at is not None or now >= row.expires_at:
        return None
    emp = await session.get(Employee, row.employee_id)
    if emp is None or not emp.active:
        return None
    return Signed(emp, frozenset(await roles_of(session, emp)), kind)


async def end_session(session: AsyncSession, *, session_id: str, key: str, now: datetime) -> None:
    await session.execute(update(WebSession).where(WebSession.id_hash == digest(key, session_id),
                                                   WebSession.ended_at.is_(None))
                          .values(ended_at=now))


async def end_sessions_of(session: AsyncSession, *, employee_id: str, now: datetime) -> int:
    """End every open session of an employee (deactivation ends them anyway; this is explicit)."""
    res = await session.execute(update(WebSession).where(WebSession.employee_id == employee_id,
                                                         WebSession.ended_at.is_(None))
                                .values(ended_at=now))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
