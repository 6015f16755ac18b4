"""Engine, sessions and the unit of work: one transaction per event or job, committed in one place."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from core.models import Employee
from core.sqlite import READERS, Lane, current_lane, setup_sqlite

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item submitted to a GroupCommit
R = TypeVar("R")

# PostgreSQL SQLSTATEs worth one more try: serialization failure, deadlock, unique violation (a
# concurrent twin inserted the same idempotency key; the retry then finds and returns it).
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


# The session's identity map holds objects weakly: an employee loaded by one step of a unit of
# work (the sender, a resolved recipient) and not kept in a variable is gone by the next step,
# and ``session.get`` selects it again. Employees loaded in a unit of work are kept until it ends
# (sessions live for one unit of work), so a repeated ``get`` costs no statement.
_KEPT = "jifen.kept"


@event.listens_for(Session, "loaded_as_persistent")
def _keep_loaded(session: Session, instance: object) -> None:
    if type(instance) is Employee:
        session.info.setdefault(_KEPT, []).append(instance)


@event.listens_for(Session, "after_transaction_end")
def _release(session: Session, tx: SessionTransaction) -> None:
    if tx.parent is None:
        session.info.pop(_KEPT, None)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        # as ``with session.begin()`` does: a failed COMMIT (a full disk) leaves the
        # connection's transaction open until rolled back, and the lane's kept connection could
        # not begin another
        with contextlib.suppress(Exception):
            session.rollback()
        raise
    finally:
        session.close()


def _roll_back_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def _close_kept(lane: Lane) -> None:  # on the lane
    if lane.connection is not None:
        conn, lane.connection = lane.connection, None
        await conn.close()


# PostgreSQL connections per process, all kept open. Each event's units of work (its accept,
# its read, its answer) check one out; with 10 kept and 10 more opened and closed again, every
# checkout past the tenth opened a connection (TLS negotiation, authentication, a new backend)
# and closed it on return. Measured on B2 and B3 (2 cores), alternating: 10 + 10 → 361–399
# `积分`/s and 3.14–3.26 s; 32 + 8 → 427–779 and 3.5–4.9 s (more backends than cores, more
# buyers at the item's lock); 16 + 0 → 970–986 and 2.59–2.64 s. A unit of work beyond the 16th
# waits for a connection (as one beyond the 20th did). Two replicas use 32 of PostgreSQL's
# default max_connections of 100.
PG_POOL_KEPT, PG_POOL_EXTRA = 16, 0
# A kept connection idle longer than this is pinged before it is used again (a database restart
# or a dropped TCP connection meanwhile is found then, and the connection replaced). SQLAlchemy's
# pool_pre_ping pinged at every checkout, and asyncpg's ping is three round trips (BEGIN, an empty
# query, ROLLBACK): measured on B2 with PostgreSQL, alternating, without it 1.06–1.10× the
# `积分`/s and p99 at 200 req/s 15.7–17.9 → 8.9–9.6 ms. A connection that broke while in use is
# found by its error, and SQLAlchemy then replaces every connection opened before it.
PG_PING_IDLE_S = 2.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= PG_PING_IDLE_S:
            return
        try:  # runs in SQLAlchemy's greenlet, where the driver's awaits are allowed
            dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - the pool discards it and opens another
            raise DisconnectionError("the connection did not answer a ping") from exc


def _sqlite_on_disk(url: str) -> bool:
    """Whether a SQLite URL names a file: ``sqlite+aiosqlite://`` (no path), ``…/:memory:`` and
    ``…?mode=memory`` are in-memory databases."""
    parsed = make_url(url)
    return parsed.database not in (None, "", ":memory:") and \
        parsed.query.get("mode") != "memory" and "mode=memory" not in (parsed.database or "")


class Database:
    """Owns the engine. ``uow()`` yields a session inside a transaction that commits on success;
    ``reading()`` one that only reads (on SQLite: another connection, no write lock)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # hide_parameters: a DBAPIError's message (logged with its traceback) would otherwise
        # carry every bound value — whole outbox payloads, message texts, mobile numbers
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        on_disk = self.is_sqlite and _sqlite_on_disk(url)
        if not self.is_sqlite:
            kwargs.update(pool_size=PG_POOL_KEPT, max_overflow=PG_POOL_EXTRA)
        elif on_disk:
            # a lane calls sqlite3 from its own thread; a connection is used by one unit of work
            # at a time (checked out of the pool), never from two threads at once
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine = create_async_engine(url, **kwargs)
        if not self.is_sqlite:
            _ping_when_idle(self.engine)
        self.reader = self.engine
        # Units of work sent by run()/read() run on lanes (on-disk SQLite; see Lane), started
        # on first use and stopped by dispose().
        self._use_lanes = on_disk
        self._writer: Lane | None = None
        self._reader: Lane | None = None
        if self.is_sqlite:
            setup_sqlite(self.engine, reader=False)
            if on_disk:
                # Every chat event reads here, as many at once as events in flight. The default
                # pool (5 kept, 10 more opened and closed again) made each read past the fifth
                # open a connection, start its thread and run its PRAGMAs, then close it all.
                self.reader = create_async_engine(url, **kwargs, pool_size=READERS,
                                                  max_overflow=READERS)
                setup_sqlite(self.reader, reader=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        # SQLite has one writer; queueing in-process is cheaper than busy-waiting on its file lock.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is not None:
            # each loop its own lock (an asyncio.Lock belongs to one loop); between the serving
            # loop's few direct uow() users and the writer lane, SQLite's busy_timeout decides
            lock = self._write_lock if (lane := current_lane()) is None else lane.lock
            async with lock, self._session_of(self.engine, self.sessions) as session, session.begin():
                yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def _session_of(self, engine: AsyncEngine, maker: async_sessionmaker[AsyncSession],
                          ) -> AsyncIterator[AsyncSession]:
        """A session of ``maker``; on a lane, bound to the lane's own connection while no other
        unit of work there holds it. A unit of work on a lane runs to its end without letting
        another start (its SQLite calls return in place), so one connection serves nearly all;
        one that waits on something else (the pool serves the one that starts meanwhile) keeps
        it until it ends. Measured: a pool checkout and return cost ~70 µs of a ~330 µs unit of
        work with one statement."""
        lane = current_lane()
        if lane is None or lane.connection_in_use:
            async with maker() as session:
                yield session
            return
        lane.connection_in_use = True
        try:
            conn = await self._lane_connection(lane, engine)
            # the session begins and commits the connection's transaction itself (none is open
            # between units of work) and leaves the connection open when it closes
            async with maker(bind=conn) as session:
                yield session
        finally:
            lane.connection_in_use = False

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: a snapshot, no write lock, nothing to commit. A write in it
        fails on SQLite (query_only); callers use it only for work that reads."""
        if self.reader is self.engine and self._write_lock is not None:  # in-memory SQLite
            async with self.uow() as session:
                yield session
            return
        # No session.begin(): the transaction starts with the first statement (on SQLite a
        # snapshot) and the session's close ends it with a rollback. Nothing is committed, and
        # the ORM's commit of a transaction that wrote nothing cost ~55 µs more (measured on a
        # lane, one-statement reads 300–375 → 250–325 µs).
        async with self._session_of(self.reader, self.read_sessions) as session:
            yield session

    async def read(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn`` in a read-only unit of work (on SQLite on disk: on the reading lane)."""
        if not self._use_lanes or current_lane() is not None:
            return await self._read_here(fn)
        if self._reader is None:
            self._reader = Lane("jifen-db-read")
        return await self._reader.call(lambda: self._read_here(fn))

    async def _read_here(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if (lane := current_lane()) is not None and self.reader is not self.engine:
            return await self._on_lane(lane, fn, write=False)
        async with self.reading() as session:
            return await fn(session)

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 4) -> T:
        """Run ``fn`` in a unit of work, retrying races the database detected (see
        _RETRY_SQLSTATES); on SQLite on disk, on the writer lane."""
        if not self._use_lanes or current_lane() is not None:
            return await self._run_here(fn, attempts)
        if self._writer is None:
            self._writer = Lane("jifen-db-write")
        return await self._writer.call(lambda: self._run_here(fn, attempts))

    async def _run_here(self, fn: Callable[[AsyncSession], Awaitable[T]], attempts: int) -> T:
        lane = current_lane() if self._write_lock is not None else None
        for attempt in range(attempts):
            try:
                if lane is not None:
                    async with lane.lock:
                        return await self._on_lane(lane, fn, write=True)
                if self._write_lock is None:  # PostgreSQL
                    return await self._unit(fn)
                async with self.uow() as session:
                    return await fn(session)
            except (IntegrityError, DBAPIError) as exc:
                retriable = _sqlstate(exc) in _RETRY_SQLSTATES
                if not retriable or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _unit(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``fn``'s unit of work with its session's life spelled out, as on a lane (``_on_lane``:
        no ``begin``, the commit and the close in one call into the sync session). Unlike a
        lane's, this one can be cancelled (a client hung up): whatever interrupts the commit or
        the rollback, the session is closed under a shield, so its connection goes back to the
        pool (``AsyncSession.__aexit__`` shields its close the same way)."""
        session = self.sessions()
        try:
            try:
                result = await fn(session)
            except BaseException:
                await session.run_sync(_roll_back_and_close)
                raise
            await session.run_sync(_commit_and_close)
            return result
        except BaseException:
            await asyncio.shield(session.close())
            raise

    @staticmethod
    async def _share_snapshot(lane: Lane, conn: AsyncConnection) -> None:
        """Reads handed over to the reading lane together share one snapshot: the first begins
        it and queues its end behind them — before whatever is handed over later, so no read
        sees a snapshot older than its own hand-over. A session bound to a connection in a
        transaction joins it and leaves it open when it closes; one that fails rolls it back,
        and the reads after it begin their own. Measured on a lane, reads of one statement
        handed over 16 at a time: 137–185 → 115–130 µs of the lane's CPU each."""
        if lane.snapshot_end is not None:
            return
        if conn.in_transaction():  # its end came while a read held the connection: too old
            await conn.rollback()
        await conn.begin()
        lane.snapshot_end = lane.loop.create_task(Database._end_snapshot(lane, conn))

    @staticmethod
    async def _end_snapshot(lane: Lane, conn: AsyncConnection) -> None:  # on the lane
        lane.snapshot_end = None
        if lane.connection is conn and not lane.connection_in_use and conn.in_transaction():
            await conn.rollback()

    async def _on_lane(self, lane: Lane, fn: Callable[[AsyncSession], Awaitable[T]], *,
                       write: bool) -> T:
        """``fn``'s unit of work on a lane, its session's life spelled out instead of
        ``async with session, session.begin()``: no ``begin`` (the session begins with its first
        statement, and SQLite's BEGIN travels with that statement), and the commit and the close
        in one call into SQLAlchemy's sync session where they were three — and the close not in
        a task of its own (``AsyncSession.__aexit__`` shields its close from cancellation by a
        new task; nothing on a lane is cancelled once it has begun, see ``Lane.call``).
        Measured on a lane: a unit of work with nothing in it 216–272 → 93–97 µs of CPU, one
        with one ``UPDATE`` 672–774 → 480–520 µs. The connection is the lane's own while free
        (``_session_of``)."""
        engine, maker = (self.engine, self.sessions) if write else (self.reader, self.read_sessions)
        # a lane keeps a connection of the engine it serves (a write from the reading lane
        # would take one of the pool's)
        kept = lane.connection
        own = not lane.connection_in_use and (kept is None or kept.engine is engine)
        conn: AsyncConnection | None = None
        if own:
            lane.connection_in_use = True
        try:
            if own:  # inside the try: a connection that cannot be opened leaves the lane's free
                conn = await self._lane_connection(lane, engine)
                if not write:
                    await self._share_snapshot(lane, conn)
                session = maker(bind=conn)
            else:
                session = maker()
            try:
                result = await fn(session)
            except BaseException:
                await session.run_sync(_roll_back_and_close)
                raise
            if write or session.in_transaction() or session.identity_map:
                await session.run_sync(_commit_and_close if write else Session.close)
            # else a read that ran only statements straight on the connection (core.columns):
            # the session began nothing and holds nothing, and its close (a greenlet, its
            # bookkeeping) would undo nothing
            return result
        finally:
            if own:
                # a read that held the connection past its snapshot's end ends it
                if conn is not None and not write and lane.snapshot_end is None and \
                        conn.in_transaction():
                    await conn.rollback()
                lane.connection_in_use = False

    @staticmethod
    async def _lane_connection(lane: Lane, engine: AsyncEngine) -> AsyncConnection:
        conn = lane.connection
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                await conn.close()
            conn = lane.connection = await engine.connect()
        return conn

    async def ping(self) -> None:
        """One round trip on a fresh checkout (``/healthz``); raises if the database is down."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        lanes = [lane for lane in (self._writer, self._reader) if lane is not None]
        self._writer = self._reader = None  # used again after this, they start anew
        for lane in lanes:
            if lane.connection is not None:
                await lane.call(lambda lane=lane: _close_kept(lane))  # type: ignore[misc]
            await lane.close()
        if self.reader is not self.engine:
            await self.reader.dispose()
        await self.engine.dispose()


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """``session.begin_nested()`` with its ``SAVEPOINT`` issued at once. SQLAlchemy issues it
    at the ORM's next use of the connection; statements sent to the connection straight
    (``core.columns``) before that would run outside the savepoint, and its rollback would not
    undo them."""
    async with session.begin_nested():
        await session.connection()
        yield session


class GroupCommit(Generic[I, R]):
    """Group commit: many small writes share one transaction (and on SQLite one turn of the write
    lock), yet each caller awaits its own durable commit.

    ``submit(item)`` queues the item; if no batch is in flight one starts at once (no latency is
    added at low load), otherwise the item waits for the running batch's commit and goes with
    everything else that queued meanwhile. ``write(session, items)`` returns one result per item
    in order, inside ``Database.run`` (so PostgreSQL races are retried). If a batch of several
    fails, each item is tried alone, so one poisoned item fails only its own caller.
    """

    def __init__(self, db: Database, write: Callable[[AsyncSession, list[I]], Awaitable[list[R]]],
                 *, max_batch: int = 200) -> None:
        self.db, self._write, self._max = db, write, max_batch
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self._committing = 0

    @property
    def waiting(self) -> int:
        """Items queued for the next batch."""
        return len(self._queue)

    @property
    def committing(self) -> int:
        """Items of the batch being committed."""
        return self._committing

    async def submit(self, item: I) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            # its own task: a caller cancelled mid-batch (a client hung up) must not stop the batch
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[I, asyncio.Future[R]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:self._max], self._queue[self._max:]
                self._committing = len(batch)
                await self._commit(batch)
        except BaseException:  # cancelled (shutdown): nobody may wait forever
            for _, future in batch + self._queue:
                _settle(future, exc=RuntimeError("group commit stopped"))
            self._queue = []
            raise
        finally:
            self._task, self._committing = None, 0

    async def _commit(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self.db.run(lambda s: self._write(s, items))
        except Exception as exc:  # noqa: BLE001 - handed to the callers, or retried one by one
            if len(batch) > 1:
                for one in batch:
                    await self._commit([one])
                return
            _settle(batch[0][1], exc=exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[Any], *, result: Any = None, exc: Exception | None = None) -> None:
    if future.done():  # the caller was cancelled; its item was written all the same
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


async def admin_execute(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE need that on PostgreSQL)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", hide_parameters=True)
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
