"""Engine, sessions and the unit of work: one transaction per event or job, committed in one place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")

# PostgreSQL SQLSTATEs worth one more try: serialization failure, deadlock, unique violation (a
# concurrent twin inserted the same idempotency key; the retry then finds and returns it).
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _setup_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own BEGIN is deferred, so two writers would both read and then fail on upgrade;
    # BEGIN IMMEDIATE takes the write lock up front (SQLAlchemy docs, "Serializable isolation /
    # Savepoints / Transactional DDL" recipe for pysqlite/aiosqlite).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Owns the engine. ``uow()`` yields a session inside a transaction that commits on success."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # hide_parameters: a DBAPIError's message (logged with its traceback) would otherwise
        # carry every bound value — whole outbox payloads, message texts, mobile numbers
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _setup_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer; queueing in-process is cheaper than busy-waiting on its file lock.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is not None:
            async with self._write_lock, self.sessions() as session, session.begin():
                yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 4) -> T:
        """Run ``fn`` in a unit of work, retrying races the database detected (see _RETRY_SQLSTATES)."""
        for attempt in range(attempts):
            try:
                async with self.uow() as session:
                    return await fn(session)
            except (IntegrityError, DBAPIError) as exc:
                retriable = _sqlstate(exc) in _RETRY_SQLSTATES
                if not retriable or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()


async def admin_execute(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE need that on PostgreSQL)."""
    from sqlalchemy import text

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", hide_parameters=True)
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
