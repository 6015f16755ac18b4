"""Pieces every platform transport shares: tracked background work and a capped body read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

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
