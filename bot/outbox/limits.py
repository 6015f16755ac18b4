"""Platform send limits: a message over a limit waits for a free slot; it is never dropped.

WeCom application messages: 30 per minute and 1,000 per hour per member per app — excess is
dropped by WeCom *without an error* (platforms.md §3, doc 90236), so jifen must never go over.
Group robots (WeCom and DingTalk custom robots): 20 per minute per robot; DingTalk throttles an
offending robot for 10 minutes (platforms.md §2.7).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

Window = tuple[int, float]  # (messages, seconds)

WECOM_MEMBER: tuple[Window, ...] = ((30, 60.0), (1000, 3600.0))
ROBOT: tuple[Window, ...] = ((20, 60.0),)
RATE_LIMITS: dict[str, tuple[Window, ...]] = {"wecom": WECOM_MEMBER, "robot": ROBOT}


class RateLimiter:
    """Sliding windows per key (``wecom:<userid>``, ``robot:<target>``), in this process.

    ``acquire`` takes a slot when every window of the key has one and returns 0, else returns
    how long until one frees up (and takes nothing).
    """

    def __init__(self, limits: dict[str, tuple[Window, ...]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = RATE_LIMITS if limits is None else limits
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def _windows(self, key: str) -> tuple[Window, ...]:
        return self.limits.get(key.split(":", 1)[0], ())

    def acquire(self, key: str | None) -> float:
        if key is None:
            return 0.0
        windows = self._windows(key)
        if not windows:
            return 0.0
        now = self._clock()
        sent = self._sent.setdefault(key, deque())
        longest = max(seconds for _, seconds in windows)
        while sent and now - sent[0] >= longest:
            sent.popleft()
        wait = 0.0
        for limit, seconds in windows:
            recent = [t for t in sent if now - t < seconds] if len(sent) >= limit else []
            if len(recent) >= limit:
                wait = max(wait, seconds - (now - recent[-limit]))
        if wait > 0:
            return wait
        sent.append(now)
        return 0.0
