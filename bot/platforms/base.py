"""Pieces the platform adapters share: tracked background work, a capped body read, and the
API clients' session, retry policy and token cache."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp import web


class TaskSet(set[asyncio.Task[object]]):
    """Work that continues after the platform was ACKed. Tracked so shutdown can wait for it
    (then cancel the rest) and so a failure is logged rather than lost with the task."""

    def __init__(self, log: logging.Logger, label: str) -> None:
        super().__init__()
        self._log, self._label = log, label

    def spawn(self, work: Awaitable[object]) -> asyncio.Task[object]:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[object]) -> None:
        self.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s: feed failed", self._label, exc_info=task.exception())

    async def drain(self, grace: float) -> None:
        """Let the tasks finish for ``grace`` seconds, then cancel what is left."""
        tasks = set(self)  # a copy: done callbacks shrink the set while we wait
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it exceeds ``limit`` (checked while streaming, not trusted
    from Content-Length alone, so chunked uploads are capped too)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of one API call, inside the outbox's own retries of a message."""

    attempts: int = 4  # tries per call, the first included
    base_delay: float = 0.5  # seconds; doubles per retry, with jitter
    max_delay: float = 8.0
    timeout: float = 10.0  # total seconds per HTTP request

    def delay(self, retry: int) -> float:
        return min(self.max_delay, self.base_delay * 2**retry) * random.uniform(0.5, 1.0)


class ApiClient:
    """Session ownership, retry policy, clock and token cache shared by the platform clients."""

    def _init_http(self, *, session: aiohttp.ClientSession | None, retry: RetryPolicy | None,
                   sleep: Sleep, clock: Callable[[], float]) -> None:
        self._session, self._owns_session = session, session is None
        self._retry = retry or RetryPolicy()
        self._sleep, self._clock = sleep, clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


class DeliveryError(Exception):
    """A send failed; ``retriable`` False means retrying cannot help (bad recipient, …);
    ``retry_after`` is the platform's own wait in seconds, when it gave one."""

    def __init__(self, message: str, *, retriable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after
