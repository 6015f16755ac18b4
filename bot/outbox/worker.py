"""The outbox worker: answers first, pushes at full speed, platform limits kept, order kept.

Two lanes, each its own loop: lane 0 (replies, in-place card updates) and lane 1 (pushes,
reminders, broadcasts), so an answer never waits behind a bulk grant. Each loop claims a batch of
due rows in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never
send the same row), sends it outside any transaction — one stream per recipient, in order, many
streams at once (bounded) over the platform clients' shared connections — and settles the whole
batch in one transaction. A row over a platform limit waits (deferred, not an attempt); one that
keeps failing is kept as ``failed`` for ``jifen outbox --retry``; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Protocol

from bot.outbox.limits import RateLimiter
from bot.platforms.base import DeliveryError
from core.db import Database
from core.models import utcnow
from core.outbox import Contact, Delivery, Lane, Outcome, claim_batch, recent_sends, settle
from core.outbox.card_refs import DeliveredCard

log = logging.getLogger("jifen.outbox")

MAX_ATTEMPTS = 6
Contacts = dict[str, Contact]
BASE_DELAY = 2.0  # seconds; doubled per attempt: 2, 4, 8, 16, 32
LEASE = timedelta(minutes=2)  # a claimed row not settled by then (crash) is sent again


class Transport(Protocol):
    """Sends rows (see :class:`bot.outbox.delivery.Deliverer`); ``contacts`` are the batch's
    employees, read in the claim's own transaction."""

    def rate_key(self, d: Delivery, contacts: Contacts) -> str | None: ...

    def send(self, d: Delivery, contacts: Contacts) -> Awaitable[DeliveredCard | None]: ...


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BASE_DELAY * 2 ** max(0, attempts - 1))


class OutboxWorker:
    def __init__(self, db: Database, transport: Transport, *, limiter: RateLimiter,
                 batch: int = 200, concurrency: int = 32, idle: float = 1.0,
                 reply_idle: float = 0.25) -> None:
        self.db, self.transport, self.limiter = db, transport, limiter
        self.batch, self.idle, self.reply_idle = batch, idle, reply_idle
        self._slots = {lane: asyncio.Semaphore(concurrency) for lane in Lane}
        self._stop = asyncio.Event()
        self._wake = {lane: asyncio.Event() for lane in Lane}
        self._loop_of_run: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Rows were just committed: look now instead of at the next poll. Thread-safe: on
        SQLite the commit that calls it happens on a database thread (core.sqlite's lanes), and an
        asyncio.Event may only be set from its own loop."""
        loop = self._loop_of_run
        if loop is None:  # not running: nobody waits on the events
            self._set_wake()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        for ev in self._wake.values():
            ev.set()

    async def run_once(self, lane: Lane | None = None) -> int:
        """Send one batch of what is due now (answers first); returns how many rows were handled."""
        lanes = list(Lane) if lane is None else [lane]
        return sum([await self._run_lane_once(ln) for ln in lanes])

    async def _run_lane_once(self, lane: Lane) -> int:
        rows, prep = await self.db.run(lambda s: claim_batch(
            s, lane=lane, now=utcnow(), limit=self.batch, lease=LEASE,
            skip_locked=not self.db.is_sqlite))
        if not rows:
            return 0
        await self._count_recent_sends(rows, prep)
        outcome = Outcome()
        try:
            streams: dict[str, list[Delivery]] = {}
            for d in rows:
                streams.setdefault(d.recipient.address, []).append(d)
            await asyncio.gather(*(self._stream(lane, ds, prep, outcome)
                                   for ds in streams.values()))
        finally:  # whatever was sent is recorded, even if the batch was interrupted
            await self.db.run(lambda s: settle(s, outcome, now=utcnow()))
        return len(rows)

    async def _count_recent_sends(self, rows: list[Delivery], prep: Contacts) -> None:
        """Platform limits are per app, not per process: tell the limiter what the outbox
        records as sent to this batch's limited recipients within the longest window, by any
        replica (one read; none when no row of the batch is limited)."""
        keys = {d.recipient.address: key for d in rows
                if (key := self.transport.rate_key(d, prep)) and self.limiter.limited(key)}
        if not keys:
            return
        since = utcnow() - timedelta(seconds=self.limiter.horizon)
        sends = await self.db.read(lambda s: recent_sends(s, set(keys), since=since))
        for address, row_id, sent_at in sends:
            self.limiter.known(keys[address], row_id, sent_at.timestamp())

    async def _stream(self, lane: Lane, rows: list[Delivery], prep: Contacts,
                      outcome: Outcome) -> None:
        """One recipient's rows, in order; a row that has to wait holds back the ones after it."""
        async with self._slots[lane]:
            for i, d in enumerate(rows):
                if not await self._deliver(d, prep, outcome):
                    for later in rows[i + 1:]:  # released unsent; claimed again after ``d``
                        outcome.released.append(later.id)
                    return

    async def _deliver(self, d: Delivery, prep: Contacts, outcome: Outcome) -> bool:
        """Send one row; False when it was not sent and must go out before the next one."""
        now = utcnow()
        wait = self.limiter.acquire(self.transport.rate_key(d, prep), d.id)
        if wait > 0:
            outcome.deferred[d.id] = now + timedelta(seconds=wait)
            return False
        try:
            card = await self.transport.send(d, prep)
        except DeliveryError as exc:
            log.warning("outbox #%s %s failed (attempt %s): %s", d.id, d.kind, d.attempts, exc)
            return self._failed(d, exc, now, outcome)
        except Exception as exc:  # noqa: BLE001 - a bug in rendering must not stop the worker
            log.exception("outbox #%s %s crashed", d.id, d.kind)
            outcome.failed[d.id] = f"{type(exc).__name__}: {exc}"
            return True
        outcome.sent.append(d.id)
        if card is not None:
            outcome.cards.append(card)
        return True

    @staticmethod
    def _failed(d: Delivery, exc: DeliveryError, now: datetime, outcome: Outcome) -> bool:
        if not exc.retriable or d.attempts >= MAX_ATTEMPTS:
            outcome.failed[d.id] = str(exc)
            return True  # given up: the recipient's next messages may go
        delay = backoff(d.attempts)
        if exc.retry_after:
            delay = max(delay, timedelta(seconds=exc.retry_after))
        outcome.retry[d.id] = (now + delay, str(exc))
        return False

    async def run(self) -> None:
        self._loop_of_run = asyncio.get_running_loop()
        await asyncio.gather(self._loop(Lane.REPLY, self.reply_idle), self._loop(Lane.PUSH, self.idle))

    async def _loop(self, lane: Lane, idle: float) -> None:
        wake = self._wake[lane]
        while not self._stop.is_set():
            wake.clear()
            try:
                handled = await self._run_lane_once(lane)
            except Exception:  # noqa: BLE001 - database hiccup: keep the worker alive
                log.exception("outbox claim failed")
                handled = 0
            if not handled:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=idle)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        for ev in self._wake.values():
            ev.set()
