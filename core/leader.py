"""One leader among replicas: a session-level PostgreSQL advisory lock held on a dedicated
connection (SPEC section 7). If the leader dies its connection closes, the lock is released and
another replica wins it at its next try.

On SQLite the processes sharing a database file (``jifen run --workers N``) are on one host: the
leader holds an exclusive ``flock`` on ``<database file>.leader``, which the kernel releases when
the process dies, however it dies. A separate file, not the database file: SQLite locks that one
with POSIX record locks, which ``flock`` emulates on NFS. An in-memory database has one process.

The lock connection can die under us (a PostgreSQL restart or failover, ``pg_terminate_backend``):
the server then has released the lock, and every statement on the old connection fails with
``connection is closed`` / ``PendingRollbackError``. So a try that fails on the connection
throws it away (invalidated, never back into the pool) and asks again on a fresh one; whoever
wins the lock first leads, the others see ``false``.
"""

from __future__ import annotations

import fcntl
import logging
import os
from contextlib import suppress

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database
from core.sqlite import beside

log = logging.getLogger("jifen.leader")
LOCK_ID = 0x6A6966656E  # "jifen"
# what a dead lock connection raises: DBAPIError (connection closed / terminated), or
# InvalidRequestError (PendingRollbackError) when SQLAlchemy saw the failure first
_LOST = (DBAPIError, InvalidRequestError, OSError, ConnectionError)
_TRY = text("SELECT pg_try_advisory_lock(:id)")
_UNLOCK = text("SELECT pg_advisory_unlock_all()")


class Leadership:
    """This replica's claim to lead; ``held()`` asks (and takes the lock when it is free)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: AsyncConnection | None = None
        self._file = FileLock(lock_path(db.url)) if db.is_sqlite else None

    async def held(self) -> bool:
        if self.db.is_sqlite:
            return self._file is None or self._file.held()
        try:
            return await self._try()
        except _LOST as exc:
            log.warning("leader: lock connection lost (%s); reconnecting", type(exc).__name__)
            await self._discard()
        return await self._try()  # a fresh connection; if the database is still down, the
        # error reaches the caller, whose next try asks again

    async def _try(self) -> bool:
        if self._conn is None:
            self._conn = await self.db.engine.connect()  # pool_pre_ping: a live one
        got = await self._conn.scalar(_TRY, {"id": LOCK_ID})
        await self._conn.commit()
        return bool(got)

    async def _discard(self) -> None:
        """Drop the lock connection for good: invalidated, so the pool never hands it out again."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with suppress(*_LOST):
            await conn.invalidate()
        with suppress(*_LOST):
            await conn.close()

    async def release(self) -> None:
        if self._file is not None:
            self._file.release()
        if self._conn is None:
            return
        try:
            # the connection goes back to the pool, not away: release the lock explicitly
            await self._conn.execute(_UNLOCK)
            await self._conn.commit()
            await self._conn.close()
            self._conn = None
        except _LOST:  # already dead: the server released the lock with it
            await self._discard()


def lock_path(sqlite_url: str) -> str | None:
    """The leader's lock file of an on-disk SQLite database; None for an in-memory one."""
    return beside(sqlite_url, ".leader")


class FileLock:
    """An exclusive ``flock`` held until released or until this process ends (the kernel drops
    it with the last descriptor). Never blocks: a try either takes the lock or reports it taken.
    ``path`` None: nothing to share, always held."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None

    def held(self) -> bool:
        if self.path is None or self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process leads
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the lock
