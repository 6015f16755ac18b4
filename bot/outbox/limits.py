"""Platform send limits: a message over a limit waits for a free slot; it is never dropped.

WeCom application messages: 30 per minute and 1,000 per hour per member per app — excess is
dropped by WeCom *without an error* (platforms.md §3, doc 90236), so jifen must never go over.
Group robots (WeCom and DingTalk custom robots): 20 per minute per robot; DingTalk throttles an
offending robot for 10 minutes (platforms.md §2.7).

The limits are per app, not per process, so the count is shared through the database: before a
batch is sent, the worker tells the limiter what the outbox already records as sent to the
batch's limited recipients within the longest window (by any replica, or by this process before a
restart) — see :meth:`RateLimiter.known`. Sends of this process not yet settled are counted from
memory; each send is identified by its outbox row, so one counted both ways counts once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

Window = tuple[int, float]  # (messages, seconds)

WECOM_MEMBER: tuple[Window, ...] = ((30, 60.0), (1000, 3600.0))
ROBOT: tuple[Window, ...] = ((20, 60.0),)
RATE_LIMITS: dict[str, tuple[Window, ...]] = {"wecom": WECOM_MEMBER, "robot": ROBOT}


class RateLimiter:
    """Sliding windows per key (``wecom:<userid>``, ``robot:<target>``).

    ``acquire`` takes a slot when every window of the key has one and returns 0, else returns
    how long until one frees up (and takes nothing). Times are wall-clock seconds (the database
    records sends in wall-clock time).
    """

    def __init__(self, limits: dict[str, tuple[Window, ...]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits = RATE_LIMITS if limits is None else limits
        self._clock = clock
        self._sent: dict[str, dict[int, float]] = {}  # key → {outbox row id: sent at}
        self._anonymous = itertools.count(-1, -1)  # ids for sends not tied to a row
        self._swept = clock()

    def _windows(self, key: str) -> tuple[Window, ...]:
        return self.limits.get(key.split(":", 1)[0], ())

    def limited(self, key: str) -> bool:
        return bool(self._windows(key))

    @property
    def horizon(self) -> float:
        """The longest window: how far back sends matter."""
        return max((s for windows in self.limits.values() for _, s in windows), default=0.0)

    @property
    def tracked(self) -> int:
        """Keys with sends held in memory."""
        return len(self._sent)

    def _sweep(self, now: float) -> None:
        """Forget sends older than the longest window, and keys left with none, once per
        horizon: a broadcast to every member leaves a key per member, which only a later send to
        the same member pruned."""
        if now - self._swept < self.horizon:
            return
        self._swept = now
        for key in list(self._sent):
            if not _prune(self._sent[key], now, self.horizon):
                del self._sent[key]

    def known(self, key: str, row_id: int, sent_at: float) -> None:
        """A send the database records (settled by any replica); counted once per row."""
        self._sent.setdefault(key, {}).setdefault(row_id, sent_at)

    def acquire(self, key: str | None, row_id: int | None = None) -> float:
        if key is None:
            return 0.0
        windows = self._windows(key)
        if not windows:
            return 0.0
        now = self._clock()
        self._sweep(now)
        longest = max(seconds for _, seconds in windows)
        sent = self._sent.setdefault(key, {})
        _prune(sent, now, longest)
        times = sorted(sent.values())
        wait = 0.0
        for limit, seconds in windows:
            recent = [t for t in times if now - t < seconds] if len(times) >= limit else []
            if len(recent) >= limit:
                wait = max(wait, seconds - (now - recent[-limit]))
        if wait > 0:
            return wait
        sent[next(self._anonymous) if row_id is None else row_id] = now
        return 0.0


def _prune(sent: dict[int, float], now: float, seconds: float) -> int:
    """Drop the sends at least ``seconds`` old; how many are left."""
    for old in [i for i, t in sent.items() if now - t >= seconds]:
        del sent[old]
    return len(sent)
