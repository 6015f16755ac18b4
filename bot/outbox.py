"""The outbox worker: sends queued rows with retries, exponential backoff and rate limits.

Rows are claimed in short transactions (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas
never send the same row twice), delivered outside any transaction, then marked. A row that keeps
failing is kept as ``failed`` for ``jifen outbox --retry``; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import OutboxMessage, utcnow

log = logging.getLogger("jifen.outbox")

MAX_ATTEMPTS = 6
BASE_DELAY = 2.0  # seconds; doubled per attempt: 2, 4, 8, 16, 32
LEASE = timedelta(minutes=2)  # a claimed row not marked by then (crash) is sent again


class DeliveryError(Exception):
    """A send failed; ``retriable`` False means retrying cannot help (bad recipient, …)."""

    def __init__(self, message: str, *, retriable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Delivery:
    """What a sender needs: the row's id, recipient, kind and JSON payload."""

    id: int
    recipient: str
    kind: str
    payload: str
    attempts: int


Sender = Callable[[Delivery], Awaitable[None]]  # raises DeliveryError on failure
RateKey = Callable[[Delivery], str | None]


class RateLimiter:
    """Sliding-window limit per key (e.g. 30/min per WeCom member, 20/min per group robot)."""

    def __init__(self, limits: dict[str, int], window: float = 60.0) -> None:
        self.limits = limits
        self.window = window
        self._sent: dict[str, deque[float]] = {}

    def wait_time(self, key: str | None) -> float:
        if key is None:
            return 0.0
        limit = self.limits.get(key.split(":", 1)[0])
        if limit is None:
            return 0.0
        q = self._sent.setdefault(key, deque())
        now = time.monotonic()
        while q and now - q[0] >= self.window:
            q.popleft()
        return 0.0 if len(q) < limit else self.window - (now - q[0])

    def record(self, key: str | None) -> None:
        if key is not None:
            self._sent.setdefault(key, deque()).append(time.monotonic())


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BASE_DELAY * 2 ** max(0, attempts - 1))


class OutboxWorker:
    def __init__(self, db: Database, send: Sender, *, rate_key: RateKey, limiter: RateLimiter,
                 batch: int = 20, idle: float = 1.0) -> None:
        self.db, self.send, self.rate_key, self.limiter = db, send, rate_key, limiter
        self.batch, self.idle = batch, idle
        self._stop = asyncio.Event()

    async def claim(self, now: datetime) -> list[Delivery]:
        async def _claim(s: AsyncSession) -> list[Delivery]:
            # A fresh row is due at once even if it was queued under a pretended clock
            # (`jifen jobs run --now` in the future); retries and deferrals wait for their time.
            fresh = and_(OutboxMessage.attempts == 0, OutboxMessage.last_error.is_(None))
            stmt = (select(OutboxMessage).where(OutboxMessage.status == "pending",
                                                or_(OutboxMessage.next_attempt_at <= now, fresh))
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(self.batch))
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(await s.scalars(stmt))
            for m in rows:  # lease: invisible to other workers until marked or the lease ends
                m.attempts += 1
                m.next_attempt_at = now + LEASE
            return [Delivery(m.id, m.recipient, m.kind, m.payload, m.attempts) for m in rows]

        return await self.db.run(_claim)

    async def _mark(self, d: Delivery, *, error: DeliveryError | None, deferred: float = 0.0) -> None:
        async def _do(s: AsyncSession) -> None:
            m = await s.get(OutboxMessage, d.id)
            assert m is not None
            now = utcnow()
            if deferred:  # rate-limited before sending: not an attempt
                m.attempts -= 1
                m.next_attempt_at = now + timedelta(seconds=deferred)
                m.last_error = "rate limited; waiting for a free slot"
            elif error is None:
                m.status, m.sent_at, m.last_error = "sent", now, None
            elif not error.retriable or m.attempts >= MAX_ATTEMPTS:
                m.status, m.last_error = "failed", str(error)[:1000]
            else:
                delay = backoff(m.attempts)
                if error.retry_after:
                    delay = max(delay, timedelta(seconds=error.retry_after))
                m.next_attempt_at, m.last_error = now + delay, str(error)[:1000]

        await self.db.run(_do)

    async def deliver(self, d: Delivery) -> None:
        key = self.rate_key(d)
        wait = self.limiter.wait_time(key)
        if wait > 0:
            await self._mark(d, error=None, deferred=wait)
            return
        try:
            await self.send(d)
            self.limiter.record(key)
            await self._mark(d, error=None)
        except DeliveryError as exc:
            log.warning("outbox #%s %s failed (attempt %s): %s", d.id, d.kind, d.attempts, exc)
            await self._mark(d, error=exc)
        except Exception as exc:  # noqa: BLE001 - a bug in rendering must not stop the worker
            log.exception("outbox #%s %s crashed", d.id, d.kind)
            await self._mark(d, error=DeliveryError(f"{type(exc).__name__}: {exc}", retriable=False))

    async def run_once(self) -> int:
        """Send what is due now; returns how many rows were handled."""
        due = await self.claim(utcnow())
        for d in due:
            await self.deliver(d)
        return len(due)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # noqa: BLE001 - database hiccup: keep the worker alive
                log.exception("outbox claim failed")
                handled = 0
            if not handled:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.idle)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stop.set()
