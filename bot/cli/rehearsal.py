"""``jifen jobs run … --dry-run``: the job's real work inside one transaction that is rolled back.

Every unit of work the job opens (``run``, ``uow``, ``read``, ``reading``) becomes a savepoint of
that one transaction, so the job counts exactly what a real run would do (the same queries, the
same rules) and the database is left as it was: no ledger posting, no outbox message, no
reminder marked as sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import Database, savepoint

T = TypeVar("T")


class Rehearsal(Database):
    """A Database whose units of work all share one transaction, rolled back at the end."""

    def __init__(self, db: Database, conn: AsyncConnection) -> None:  # noqa: D107
        # deliberately not Database.__init__: no engine of its own, the caller's connection
        self.url, self.is_sqlite, self.engine, self.reader = db.url, db.is_sqlite, db.engine, db.engine
        self._session = AsyncSession(bind=conn, expire_on_commit=False,
                                     join_transaction_mode="create_savepoint")
        self._write_lock = None

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        async with savepoint(self._session):
            yield self._session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.uow() as session:
            yield session

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 4) -> T:
        async with self.uow() as session:
            return await fn(session)

    async def read(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await self.run(fn)

    async def dispose(self) -> None:
        await self._session.close()


async def rehearse(db: Database, job: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``job`` against ``db`` and roll every change back; returns what the job returned."""
    async with db.engine.connect() as conn:
        outer = await conn.begin()
        rehearsal = Rehearsal(db, conn)
        try:
            return await job(rehearsal)
        finally:
            await rehearsal.dispose()
            await outer.rollback()
