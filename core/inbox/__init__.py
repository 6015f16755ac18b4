"""The transactional inbox's queries: accept once, resume after a crash, finish or give up.

Every function taking the ``Database`` is one short transaction of its own: the inbox row must
be durable before the platform is answered, and must not wait on the (longer) unit of work that
processes it. ``mark`` runs in the caller's transaction (the event's own answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import columns
from core.db import Database
from core.models import InboxEvent
from core.retention.replay import ReplayedRequest, ReplayGuard, admit, record
from core.upsert import do_nothing

STATES = ("pending", "done", "failed")


@dataclass(frozen=True)
class Claimed:
    id: int
    payload: dict[str, object]
    attempts: int


async def accept(db: Database, key: str, payload: dict[str, object], *, now: datetime,
                 lease_until: datetime, guard: ReplayGuard | None = None) -> int | None:
    """Store one event, leased to the caller; its id, or None if the key was already stored.
    The unique key decides between replicas, so there is no retry (``Database.run`` would
    retry the unique violation).

    A signed request's replay ``guard`` is written in the same transaction, so a failure records
    neither and the platform's identical retry is not refused; a retry of a stored request (the
    same guard and event: its answer was lost) is None like any redelivery. ReplayedRequest if
    the guard was recorded before for another request; a redelivered event under a fresh guard
    records the guard alone."""
    async def store(session: AsyncSession) -> int:
        if guard is not None:
            await record(session, guard)
        row = InboxEvent(key=key, payload=payload, state="pending", attempts=0,
                         lease_until=lease_until, created_at=now)
        session.add(row)
        await session.flush()
        return row.id

    try:
        return await db.run(store, attempts=1)
    except IntegrityError:
        # which key was taken? Offering the guard alone tells (and records it if it was free)
        if guard is not None and not await admit(db, guard):
            raise ReplayedRequest(guard.key) from None
        return None


@dataclass(frozen=True)
class Arrival:
    """One verified event to store (see ``accept_many``)."""
    key: str
    payload: dict[str, object]
    now: datetime
    lease_until: datetime


# The event path's statements are built once (per dialect where the dialect's insert is needed)
# and executed with parameters: building one per call (argument coercion, cache key) cost more
# CPU than running it. The table, not the mapped class: no ORM bulk machinery on these paths.
_INBOX = cast(Table, InboxEvent.__table__)
_MARK = (update(_INBOX).where(_INBOX.c.id == bindparam("row_id"))
         .values(state=bindparam("new_state")))
# an event's row is its idempotency record: only a pending row is answered, so a twin that
# took the row after a lease ran out (a stuck process) finds it done and answers nothing
_MARK_DONE = (update(_INBOX).where(_INBOX.c.id.in_(bindparam("row_ids", expanding=True)),
                                   _INBOX.c.state == "pending")
              .values(state="done").returning(_INBOX.c.id))


async def accept_many(session: AsyncSession, arrivals: list[Arrival], *,
                      state: str = "pending") -> list[int | None]:
    """Store several events in the caller's transaction with one multi-row
    ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING``: per arrival its new row id, or None if
    its key was stored already (or by an earlier arrival in the same list). ``state`` "done":
    events answered before they were stored, their answers written in the same transaction."""
    if not arrivals:
        return []
    first: dict[str, int] = {}  # key -> index of its first arrival
    for i, a in enumerate(arrivals):
        first.setdefault(a.key, i)
    rows: list[dict[str, Any]] = [
        {"key": a.key, "payload": a.payload, "state": state, "attempts": 0,
         "lease_until": a.lease_until, "created_at": a.now}
        for i, a in enumerate(arrivals) if first[a.key] == i]
    # cacheable ON CONFLICT (core.upsert): the rows go as parameters, one multi-row statement
    found = await columns.inserted(session, do_nothing(
        _INBOX, session.get_bind().dialect.name, ("key",), (_INBOX.c.id, _INBOX.c.key)), rows)
    ids = {key: row_id for row_id, key in found}
    return [ids.get(a.key) if first[a.key] == i else None for i, a in enumerate(arrivals)]


async def claim_due(db: Database, *, now: datetime, lease_until: datetime,
                    limit: int = 20) -> list[Claimed]:
    """Pending rows whose lease ran out (their process died, or a retry is due), each leased
    to the caller by a conditional update so two replicas never take the same row."""
    async def claim(session: AsyncSession) -> list[Claimed]:
        rows = (await session.execute(
            select(InboxEvent.id, InboxEvent.payload, InboxEvent.attempts)
            .where(InboxEvent.state == "pending", InboxEvent.lease_until <= now)
            .order_by(InboxEvent.id).limit(limit))).all()
        claimed = []
        for row_id, payload, attempts in rows:
            result = await session.execute(
                update(InboxEvent).where(InboxEvent.id == row_id, InboxEvent.state == "pending",
                                         InboxEvent.lease_until <= now)
                .values(lease_until=lease_until).execution_options(synchronize_session=False))
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(Claimed(row_id, payload, attempts))
        return claimed

    return await db.run(claim)


async def finish(db: Database, row_id: int, *, state: str = "done") -> None:
    await db.run(lambda session: mark(session, row_id, state=state))


async def mark(session: AsyncSession, row_id: int, *, state: str = "done") -> None:
    """Set a row's state inside the caller's transaction (``finish``: a given-up row ``failed``).
    The dispatcher marks an answered event with ``mark_done``, in the answer's own commit."""
    await session.execute(_MARK, {"row_id": row_id, "new_state": state})


async def mark_done(session: AsyncSession, row_ids: list[int]) -> set[int]:
    """Mark pending rows ``done`` in the caller's transaction, in one statement (a batch of
    answers); the ids marked now. A row not among them was answered by another processing (it
    held the row after a lease ran out): its answer must not be sent again. On PostgreSQL a
    concurrent answer of the same row makes this wait for its commit, then skip the row."""
    if not row_ids:
        return set()
    return {row[0] for row in await columns.rows(session, _MARK_DONE, {"row_ids": row_ids})}


async def retry_at(db: Database, row_id: int, *, attempts: int, when: datetime) -> None:
    """Count a failed attempt; the row becomes due again at ``when``."""
    await db.run(lambda session: session.execute(
        update(InboxEvent).where(InboxEvent.id == row_id)
        .values(attempts=attempts, lease_until=when).execution_options(synchronize_session=False)))


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per state, every state present (zeros included) for /metrics."""
    found = dict((await session.execute(
        select(InboxEvent.state, func.count()).group_by(InboxEvent.state))).tuples().all())
    return {state: int(found.get(state, 0)) for state in STATES}
