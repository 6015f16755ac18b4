"""Processes the transactional inbox: platforms acknowledge an event once it is stored here.

* ``accept`` (the transports' ``feed``) writes the verified event in one short transaction,
  deduplicated by its platform id, leased to this process (group commit: accepts that arrive
  while one insert is committing are inserted together in the next, each acked after it), and starts processing it at once, so
  a reply is not delayed by a poll. It raises if the row could not be stored: the transport then
  answers "try again" (WeCom 500, DingTalk HTTP 503, Stream no ACK).
* Before the store, ``Dispatcher.early`` answers a read-only command (its row is stored
  ``done`` with the reply rows, one transaction), and an employee's quick write (``赞``, an
  order: ``AT_ARRIVAL``) is processed in the transaction that stores its row ``done``, before
  the acknowledgement; if that fails for any reason but a refusal, the event is stored and
  processed as below. Both are group-committed together, each quick write of a batch in a
  savepoint of its own.
* Processing calls ``Dispatcher.handle``, which marks the row ``done`` in the transaction that
  commits the event's answer (one transaction per event, not two). An infrastructure error
  (database outage, bug) counts an attempt and makes the row due again after a backoff; after
  ``max_attempts`` the user gets an apology and the row is ``failed`` (``jifen_inbox_events``).
* ``run`` polls for pending rows whose lease ran out: those of a process killed mid-work (on
  this or another replica) and retries that are due. The dispatcher dedupes by the same key, so
  an event processed just before a crash is not processed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbox.codec import decode, encode
from bot.platforms.base import TaskSet
from bot.runtime.dispatcher import Early, Refused
from bot.runtime.events import Event, event_key
from cards.model import Card
from core import inbox
from core.db import Database, GroupCommit, savepoint
from core.models import utcnow
from core.retention import ReplayGuard

log = logging.getLogger("jifen.inbox")

# handle(event, row_id, typed) marks the row done in the transaction that commits the event's
# answer; typed: what early() parsed, or None
Handle = Callable[[Event, int, Any], Awaitable[object]]
GiveUp = Callable[[Event], Awaitable[object]]
# early(event) before the store: a read-only command's answer, or the parsed command;
# record(session, event, cards) writes an early answer's reply rows in the caller's transaction
EarlyHook = Callable[[Event], Awaitable[Early]]
Record = Callable[[AsyncSession, Event, "list[Card]"], Awaitable[object]]
# arrived(session, event, typed) processes an event in the transaction that stores it (an
# ``Early.at_arrival`` command); raises Refused with the answer of a refusal
Arrived = Callable[[AsyncSession, Event, Any], Awaitable[object]]


@dataclass(frozen=True)
class _Answered:  # stored done with the reply rows of an answer computed before
    arrival: inbox.Arrival
    event: Event
    cards: list[Card]


@dataclass(frozen=True)
class _Arrived:  # stored done and processed in the store's transaction
    arrival: inbox.Arrival
    event: Event
    typed: Any


@dataclass(frozen=True)
class InboxTimings:
    lease_s: float = 60.0  # a row not finished within this is taken over (process presumed dead)
    poll_s: float = 1.0  # how often due rows are looked for
    retry_first_s: float = 2.0  # backoff after the first failure, doubling
    retry_max_s: float = 60.0
    max_attempts: int = 5
    stop_grace_s: float = 5.0


class InboxProcessor:
    def __init__(self, db: Database, *, handle: Handle, give_up: GiveUp,
                 timings: InboxTimings | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 early: EarlyHook | None = None, record: Record | None = None,
                 arrived: Arrived | None = None) -> None:
        self.db, self._handle, self._give_up = db, handle, give_up
        self._early, self._record, self._arrived = early, record, arrived
        self.t, self.clock = timings or InboxTimings(), clock
        self._tasks = TaskSet(log, "inbox")
        self._wake = asyncio.Event()
        self._stopping = False
        # accepts arriving while one commit is in flight are stored together in the next one
        self._store = GroupCommit(db, inbox.accept_many)
        # answered and quick-write events share one: a batch's rows share their pages, its
        # commit and, on SQLite, one turn of the writer
        self._arrivals: GroupCommit[_Answered | _Arrived, object] = \
            GroupCommit(db, self._write_arrivals)

    async def accept(self, event: Event, *, guard: ReplayGuard | None = None) -> None:
        """Durably store ``event`` (raises if that failed), then process it in the background.
        ``guard``: a signed request's replay key, stored in the same transaction (ReplayedRequest
        if it was seen before)."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.t.lease_s)
        arrival = inbox.Arrival(event_key(event), encode(event), now, lease_until)
        early = await self._early_of(event) if guard is None else None
        if early is not None and early.cards is not None and \
                await self._store_with_answer(arrival, event, early.cards):
            return
        typed = early.typed if early is not None else None
        if early is not None and early.at_arrival and await self._at_arrival(arrival, event, typed):
            return
        if guard is not None:
            # a signed request's replay guard shares the row's transaction (so a failed store
            # records neither); these few are stored one per transaction, not group-committed
            row_id = await inbox.accept(self.db, arrival.key, arrival.payload, now=now,
                                        lease_until=lease_until, guard=guard)
        else:
            row_id = await self._store.submit(arrival)
        if row_id is not None:  # None: a redelivery of a stored event, acknowledged again
            self._tasks.spawn(self._process(row_id, event, 0, typed))

    async def _early_of(self, event: Event) -> Early | None:
        """``early(event)``; None when there is no hook or it failed (a read of a read-only
        command, say: the event then takes the stored path, which retries)."""
        if self._early is None or self._record is None:
            return None
        try:
            return await self._early(event)
        except Exception:  # noqa: BLE001 - stored and processed like any event instead
            log.warning("inbox: answering %s at once failed; stored to retry", event_key(event),
                        exc_info=True)
            return None

    async def _at_arrival(self, arrival: inbox.Arrival, event: Event, typed: object) -> bool:
        """Store a quick write's event as done and process it, in one transaction, before the
        acknowledgement: one transaction and one hand-over to the database where storing and
        processing took two of each. True once that, or the answer of its refusal, is committed
        (a redelivery of an event stored before commits nothing and is acknowledged again);
        False if it failed (a database error, a bug): the event is then stored and processed
        after the acknowledgement like any other, and retried from the inbox."""
        if self._arrived is None or self._record is None:
            return False
        try:
            outcome = await self._arrivals.submit(_Arrived(arrival, event, typed))
        except Refused as refused:  # alone in its batch, which was rolled back
            outcome = refused
        except Exception:  # noqa: BLE001 - stored below and retried like any event
            log.warning("inbox: processing %s at arrival failed; stored to retry",
                        event_key(event), exc_info=True)
            return False
        if isinstance(outcome, Refused):  # rolled back: stored with its answer, as a read's is
            return await self._store_with_answer(arrival, event, outcome.cards)
        return outcome is True

    async def _store_with_answer(self, arrival: inbox.Arrival, event: Event,
                                 cards: list[Card]) -> bool:
        """Store the event as done with its reply rows, in one transaction (group-committed);
        a redelivery of an event stored before (done or pending) inserts nothing and sends
        nothing. False if that failed: the caller stores it as pending, processed like any."""
        try:
            await self._arrivals.submit(_Answered(arrival, event, cards))
            return True
        except Exception:  # noqa: BLE001 - e.g. a reply row that cannot be written
            log.warning("inbox: storing the answer of %s failed; stored to retry",
                        event_key(event), exc_info=True)
            return False

    async def _write_arrivals(self, session: AsyncSession,
                              items: list[_Answered | _Arrived]) -> list[object]:
        """One batch: each quick write stored ``done`` and processed, then the answered events
        stored ``done`` with their reply rows. True for each; for a quick write refused, its
        ``Refused``, or False if it failed otherwise: in a batch of several each is processed in
        a savepoint of its own, rolled back alone (the caller then stores it with its answer, or
        as pending); alone, it raises and the batch rolls back. The quick writes go first: a
        savepoint's release inserts every reply row still waiting (``core.pending``), and an
        answered event's row that failed there would be blamed on the quick write."""
        assert self._record is not None and self._arrived is not None
        out: list[object] = [True] * len(items)
        for n, quick in enumerate(items):
            if isinstance(quick, _Arrived):
                if len(items) == 1:
                    await self._process_arrived(session, quick, self._arrived)
                else:
                    out[n] = await self._process_in_savepoint(session, quick, self._arrived)
        answered = [item for item in items if isinstance(item, _Answered)]
        if answered:
            rows = await inbox.accept_many(session, [i.arrival for i in answered], state="done")
            for item, row_id in zip(answered, rows, strict=True):
                if row_id is not None:  # None: stored before; its answer is not sent again
                    await self._record(session, item.event, item.cards)
        return out

    @staticmethod
    async def _process_arrived(session: AsyncSession, item: _Arrived, arrived: Arrived) -> None:
        [row_id] = await inbox.accept_many(session, [item.arrival], state="done")
        if row_id is not None:  # None: stored before (done, or pending and processed from there)
            await arrived(session, item.event, item.typed)

    @classmethod
    async def _process_in_savepoint(cls, session: AsyncSession, item: _Arrived,
                                    arrived: Arrived) -> object:
        try:
            async with savepoint(session):
                await cls._process_arrived(session, item, arrived)
            return True
        except Refused as refused:
            return refused
        except Exception:  # noqa: BLE001 - this one only: stored after and retried like any
            log.warning("inbox: processing %s at arrival failed; stored to retry",
                        event_key(item.event), exc_info=True)
            return False

    async def _process(self, row_id: int, event: Event, attempts: int,
                       typed: object = None) -> None:
        try:
            await self._handle(event, row_id, typed)  # marks the row done with the answer
        except Exception:  # noqa: BLE001 - retried from the inbox; the log gets the traceback
            log.exception("inbox: event %s failed (attempt %d)", event_key(event), attempts + 1)
            await self._failed(row_id, event, attempts + 1)

    async def _failed(self, row_id: int, event: Event, attempts: int) -> None:
        try:
            if attempts >= self.t.max_attempts:
                await self._give_up(event)
                await inbox.finish(self.db, row_id, state="failed")
                log.warning("inbox: gave up on %s after %d attempts", event_key(event), attempts)
                return
            delay = min(self.t.retry_max_s, self.t.retry_first_s * 2 ** (attempts - 1))
            await inbox.retry_at(self.db, row_id, attempts=attempts,
                                 when=self.clock() + timedelta(seconds=delay))
        except Exception:  # noqa: BLE001 - the database is still away: the lease runs out instead
            log.warning("inbox: could not record the failure of %s; retried after its lease",
                        event_key(event))

    async def resume_due(self) -> int:
        """Take over due rows (dead owner's or retry due) and start them; how many."""
        now = self.clock()
        rows = await inbox.claim_due(self.db, now=now,
                                     lease_until=now + timedelta(seconds=self.t.lease_s))
        for row in rows:
            try:
                event = decode(row.payload)
            except (KeyError, TypeError, ValueError):
                log.error("inbox: row %d cannot be read; marked failed", row.id)
                await inbox.finish(self.db, row.id, state="failed")
                continue
            self._tasks.spawn(self._process(row.id, event, row.attempts))
        return len(rows)

    async def run(self) -> None:
        """Poll until :meth:`stop`; a database outage only delays the next poll."""
        while not self._stopping:
            try:
                await self.resume_due()
            except Exception:  # noqa: BLE001 - e.g. the database is down; try again next poll
                log.warning("inbox: resume poll failed", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), self.t.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self._tasks.drain(self.t.stop_grace_s)

    @property
    def waiting(self) -> int:
        """Arrivals queued for the next shared store."""
        return self._store.waiting + self._arrivals.waiting

    @property
    def storing(self) -> int:
        """Arrivals in the shared stores being committed."""
        return self._store.committing + self._arrivals.committing

    @property
    def busy(self) -> int:
        """Events being processed in this process right now."""
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until the events started so far are processed (for tests and shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
