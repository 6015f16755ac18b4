"""At-most-once acceptance of a signed request, shared by every replica through the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import SeenRequest


@dataclass(frozen=True)
class ReplayGuard:
    """A signed request's replay key (a digest of its ``timestamp``/``sign`` pair)."""

    key: str
    expires_at: datetime


class ReplayedRequest(Exception):
    """The request's replay key was recorded before: refuse it (HTTP 403)."""


async def record(session: AsyncSession, guard: ReplayGuard) -> None:
    """Write ``guard`` in the caller's transaction; IntegrityError (at flush) if already there."""
    session.add(SeenRequest(key=guard.key, expires_at=guard.expires_at))
    await session.flush()


async def first_use(db: Database, key: str, *, expires_at: datetime) -> bool:
    """True the first time ``key`` is offered, False ever after (until pruned after
    ``expires_at``). One short transaction of its own: the primary key decides between replicas,
    so there is no retry (``Database.run`` would retry the unique violation)."""
    try:
        async with db.uow() as session:
            await record(session, ReplayGuard(key, expires_at))
    except IntegrityError:
        return False
    return True
