"""Engine, sessions and the unit of work: one transaction per event or job, committed in one place."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from core.models import Employee

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item submitted to a GroupCommit
R = TypeVar("R")

# PostgreSQL SQLSTATEs worth one more try: serialization failure, deadlock, unique violation (a
# concurrent twin inserted the same idempotency key; the retry then finds and returns it).
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}
_SQLITE_READERS = 32  # reader connections kept open (each is a thread, idle when not reading)
# Set on a _Lane's thread: the unit of work running there calls sqlite3 directly.
_ON_LANE = threading.local()


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


class _OneHopCursor:
    """An aiosqlite cursor that runs execute + fetchall + close as one call on the connection's
    thread. SQLAlchemy's aiosqlite adapter awaits cursor(), execute(), fetchall() and close() one
    by one: four thread round trips (each a wake-up of the event loop) per statement; this is one.
    """

    def __init__(self, conn: _OneHopConnection) -> None:
        self._conn = conn
        self.description: Any = None
        self.lastrowid: int | None = None
        self.rowcount = -1
        self.arraysize = 1
        self._rows: list[Any] = []

    def _run(self, begin: str | None, sql: str, params: Any, many: bool,
             ) -> tuple[Any, list[Any], int | None, int]:
        raw = self._conn._conn  # the sqlite3 connection, used only on its own thread here
        if begin is not None:
            raw.execute(begin)
        cur = raw.executemany(sql, params) if many else raw.execute(sql, params)
        try:
            desc = cur.description
            return desc, (cur.fetchall() if desc else []), cur.lastrowid, cur.rowcount
        finally:
            cur.close()

    async def execute(self, sql: str, params: Any = ()) -> _OneHopCursor:
        result = await self._conn._execute(self._run, self._conn.take_begin(), sql, params, False)
        self.description, self._rows, self.lastrowid, self.rowcount = result
        return self

    async def executemany(self, sql: str, params: Any) -> _OneHopCursor:
        result = await self._conn._execute(self._run, self._conn.take_begin(), sql, params, True)
        self.description, self._rows, self.lastrowid, self.rowcount = result
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = size or self.arraysize
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def close(self) -> None:
        self._rows = []


class _OneHopConnection(aiosqlite.Connection):
    """Thread hops saved per unit of work: the transaction's ``BEGIN`` travels with its first
    statement (it was a hop of its own), and ``commit``/``rollback`` are not sent when no
    transaction is open — the pool's reset after every commit was a hop that did nothing."""

    _begin: str | None = None

    def defer_begin(self, sql: str) -> None:
        self._begin = sql

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    async def cursor(self) -> _OneHopCursor:  # type: ignore[override]  # no thread hop to make one
        return _OneHopCursor(self)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(_ON_LANE, "lane", None) is None:
            return await super()._execute(fn, *args, **kwargs)
        # On a lane the whole unit of work runs on this thread: call sqlite3 here. A hop to the
        # connection's own thread and back cost ~170 µs of CPU (queue, wake-ups, the GIL
        # changing hands), more than most statements; a lane pays one hop per unit of work.
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def _idle(self) -> bool:
        # sqlite3's in_transaction reads sqlite3_get_autocommit(), no thread check; nothing runs
        # on the connection's thread between our own awaited calls
        self._begin = None
        return self._connection is not None and not self._conn.in_transaction

    async def commit(self) -> None:
        if not self._idle():
            await super().commit()

    async def rollback(self) -> None:
        if not self._idle():
            await super().rollback()


class _Lane:
    """A thread with an event loop of its own that runs whole units of work, their SQLite calls
    made inline (``_OneHopConnection._execute``): one thread hop per unit of work instead of one
    per statement, and the serving loop never waits on a database call. One lane writes (SQLite
    has one writer) and one reads: measured on B2, a second reading lane cost more (a third
    Python thread wanting the GIL) than it gave."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.lock = asyncio.Lock()  # the write lock of the units of work on this lane
        self.busy = 0  # units of work sent here and not finished
        # Hand-over both ways in batches: each wake-up of the other thread (a self-pipe write,
        # the GIL changing hands) is paid once for everything queued meanwhile, not per unit of
        # work (asyncio.run_coroutine_threadsafe pays it per call, twice).
        self._mutex = threading.Lock()
        self._sent: list[tuple[Coroutine[Any, Any, Any], asyncio.Future[Any]]] = []
        self._done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any],
                                                                asyncio.Task[Any]]]] = {}
        self._tasks: dict[asyncio.Future[Any], asyncio.Task[Any]] = {}  # used on the lane only
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        _ON_LANE.lane = self
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._mutex:
            self._sent.append((fn(), future))
            first = len(self._sent) == 1
        if first:
            self.loop.call_soon_threadsafe(self._start)
        self.busy += 1
        try:
            return await future
        except asyncio.CancelledError:
            # the caller gave up: a unit of work that has not begun (waiting for the lane's
            # lock, or not yet taken up) never runs; one running finishes (no await on a lane
            # suspends mid-transaction)
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._cancel, future)
            raise
        finally:
            self.busy -= 1

    def _cancel(self, future: asyncio.Future[Any]) -> None:  # on the lane
        task = self._tasks.pop(future, None)
        if task is not None:
            task.cancel()

    def _start(self) -> None:  # on the lane
        with self._mutex:
            sent, self._sent = self._sent, []
        for coro, future in sent:
            if future.cancelled():  # its caller gave up before it began: it never runs
                coro.close()
                continue
            task = self.loop.create_task(coro)
            self._tasks[future] = task
            task.add_done_callback(functools.partial(self._finished, future))

    def _finished(self, future: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:  # lane
        self._tasks.pop(future, None)
        loop = future.get_loop()
        with self._mutex:
            done = self._done.setdefault(loop, [])
            done.append((future, task))
            first = len(done) == 1
        if first and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, loop)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:  # on the caller's loop
        with self._mutex:
            done = self._done.pop(loop, [])
        for future, task in done:
            if future.done():
                continue
            if task.cancelled():
                future.cancel()
            elif (exc := task.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(task.result())

    async def close(self, grace: float = 10.0) -> None:
        """Stop once the units of work sent here have finished (at most ``grace`` seconds)."""
        for _ in range(int(grace / 0.01)):
            if not self.busy:
                break
            await asyncio.sleep(0.01)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, grace)


def _setup_sqlite(engine: AsyncEngine, *, reader: bool) -> None:
    # pysqlite's own BEGIN is deferred, so two writers would both read and then fail on upgrade;
    # BEGIN IMMEDIATE takes the write lock up front (SQLAlchemy docs, "Serializable isolation /
    # Savepoints / Transactional DDL" recipe for pysqlite/aiosqlite). The reader engine's
    # connections are query_only and begin a deferred transaction: a consistent WAL snapshot that
    # neither waits for nor blocks the writer.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit is one WAL append without fsync (the WAL is fsynced at checkpoint).
        # Atomic and durable across a crash of the process (kill -9); only an OS crash or power
        # loss can roll back the last commits, never tear one. See README "Design".
        cur.execute("PRAGMA synchronous=NORMAL")
        if reader:
            cur.execute("PRAGMA query_only=ON")
        cur.close()
        aio = getattr(dbapi_conn, "_connection", None)
        if type(aio) is aiosqlite.Connection:
            aio.__class__ = _OneHopConnection

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        sql = "BEGIN" if reader else "BEGIN IMMEDIATE"
        aio = conn.connection.driver_connection
        if isinstance(aio, _OneHopConnection):
            aio.defer_begin(sql)  # sent with the first statement, in the same thread call
        else:
            conn.exec_driver_sql(sql)


class Database:
    """Owns the engine. ``uow()`` yields a session inside a transaction that commits on success;
    ``reading()`` one that only reads (on SQLite: another connection, no write lock)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # hide_parameters: a DBAPIError's message (logged with its traceback) would otherwise
        # carry every bound value — whole outbox payloads, message texts, mobile numbers
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        on_disk = self.is_sqlite and ":memory:" not in url and "mode=memory" not in url
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        elif on_disk:
            # a lane calls sqlite3 from its own thread; a connection is used by one unit of work
            # at a time (checked out of the pool), never from two threads at once
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine = create_async_engine(url, **kwargs)
        self.reader = self.engine
        # Units of work sent by run()/read() run on lanes (on-disk SQLite; see _Lane), started
        # on first use and stopped by dispose().
        self._use_lanes = on_disk
        self._writer: _Lane | None = None
        self._reader: _Lane | None = None
        if self.is_sqlite:
            _setup_sqlite(self.engine, reader=False)
            if on_disk:
                # Every chat event reads here, as many at once as events in flight. The default
                # pool (5 kept, 10 more opened and closed again) made each read past the fifth
                # open a connection, start its thread and run its PRAGMAs, then close it all.
                self.reader = create_async_engine(url, **kwargs, pool_size=_SQLITE_READERS,
                                                  max_overflow=_SQLITE_READERS)
                _setup_sqlite(self.reader, reader=True)
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
            lane: _Lane | None = getattr(_ON_LANE, "lane", None)
            # each loop its own lock (an asyncio.Lock belongs to one loop); between the serving
            # loop's few direct uow() users and the writer lane, SQLite's busy_timeout decides
            lock = self._write_lock if lane is None else lane.lock
            async with lock, self.sessions() as session, session.begin():
                yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: a snapshot, no write lock, nothing to commit. A write in it
        fails on SQLite (query_only); callers use it only for work that reads."""
        if self.reader is self.engine and self._write_lock is not None:  # in-memory SQLite
            async with self.uow() as session:
                yield session
            return
        async with self.read_sessions() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn`` in a read-only unit of work (on SQLite on disk: on the reading lane)."""
        if not self._use_lanes or getattr(_ON_LANE, "lane", None) is not None:
            return await self._read_here(fn)
        if self._reader is None:
            self._reader = _Lane("jifen-db-read")
        return await self._reader.call(lambda: self._read_here(fn))

    async def _read_here(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.reading() as session:
            return await fn(session)

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 4) -> T:
        """Run ``fn`` in a unit of work, retrying races the database detected (see
        _RETRY_SQLSTATES); on SQLite on disk, on the writer lane."""
        if not self._use_lanes or getattr(_ON_LANE, "lane", None) is not None:
            return await self._run_here(fn, attempts)
        if self._writer is None:
            self._writer = _Lane("jifen-db-write")
        return await self._writer.call(lambda: self._run_here(fn, attempts))

    async def _run_here(self, fn: Callable[[AsyncSession], Awaitable[T]], attempts: int) -> T:
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
        lanes = [lane for lane in (self._writer, self._reader) if lane is not None]
        self._writer = self._reader = None  # used again after this, they start anew
        for lane in lanes:
            await lane.close()
        if self.reader is not self.engine:
            await self.reader.dispose()
        await self.engine.dispose()


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
                await self._commit(batch)
        except BaseException:  # cancelled (shutdown): nobody may wait forever
            for _, future in batch + self._queue:
                _settle(future, exc=RuntimeError("group commit stopped"))
            self._queue = []
            raise
        finally:
            self._task = None

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
