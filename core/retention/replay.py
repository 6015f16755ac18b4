"""At-most-once acceptance of a signed request, shared by every replica through the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import SeenRequest


@dataclass(frozen=True)
class ReplayGuard:
    """A signed request's replay key (a digest of its ``timestamp``/``sign`` pair) and a digest
    of what it asked for (``request``: its event's key, or its body when it has no event)."""

    key: str
    expires_at: datetime
    request: str | None = None


class ReplayedRequest(Exception):
    """The request's replay key was recorded before for another request: refuse it (HTTP 403)."""


async def record(session: AsyncSession, guard: ReplayGuard) -> None:
    """Write ``guard`` in the caller's transaction; IntegrityError (at flush) if already there."""
    session.add(SeenRequest(key=guard.key, expires_at=guard.expires_at, request=guard.request))
    await session.flush()


async def admit(db: Database, guard: ReplayGuard) -> bool:
    """True the first time ``guard.key`` is offered (it is recorded), and again for the identical
    request (the same ``request`` digest): a platform retrying a request whose answer it lost
    must not be refused, and the request's event is deduplicated by its own key anyway. False
    for the key with anything else — a captured pair carrying another body. One short
    transaction of its own: the primary key decides between replicas, so there is no retry
    (``Database.run`` would retry the unique violation)."""
    try:
        async with db.uow() as session:
            await record(session, guard)
    except IntegrityError:
        return guard.request is not None and await _recorded_request(db, guard.key) == guard.request
    return True


async def _recorded_request(db: Database, key: str) -> str | None:
    async with db.reading() as session:
        found: str | None = await session.scalar(
            select(SeenRequest.request).where(SeenRequest.key == key))
        return found
