"""SQLite under asyncio: connections that make one thread call per statement, and lanes — threads
that run whole units of work with their SQLite calls made in place (see ``Lane``)."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
READERS = 32  # reader connections kept open (each is a thread, idle when not reading)
# Set on a Lane's thread: the unit of work running there calls sqlite3 directly.
_HERE = threading.local()


def current_lane() -> Lane | None:
    """The lane this code runs on, if any."""
    lane: Lane | None = getattr(_HERE, "lane", None)
    return lane


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
            self._conn.begin_on(raw, begin)
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
    gate: WriteGate | None = None  # a writer's turn among processes (on-disk databases)

    def defer_begin(self, sql: str) -> None:
        self._begin = sql

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    def begin_on(self, raw: sqlite3.Connection, begin: str) -> None:
        """Send ``begin`` (on the thread making this connection's calls), a writer's only once
        it has the gate."""
        gate = self.gate if begin != "BEGIN" else None
        if gate is not None:
            gate.enter()
        try:
            raw.execute(begin)
        except BaseException:
            if gate is not None:
                gate.leave()
            raise

    async def cursor(self) -> _OneHopCursor:  # type: ignore[override]  # no thread hop to make one
        return _OneHopCursor(self)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if current_lane() is None:
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
        await self._end(super().commit)

    async def rollback(self) -> None:
        await self._end(super().rollback)

    async def _end(self, end: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """The transaction's commit or rollback, if one is open; the write gate given back."""
        try:
            if not self._idle():
                await end()
        finally:
            self._leave_gate()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.gate is not None:
                self.gate.close()

    def _leave_gate(self) -> None:
        if self.gate is not None:
            self.gate.leave()


class WriteGate:
    """Whose turn it is to write, among every process (and connection) on one database file:
    an exclusive ``flock`` on ``<database file>.writing``, taken before ``BEGIN IMMEDIATE`` and
    given back after the commit or rollback. SQLite's own wait for its write lock is a sleep
    that backs off (1, 2, 5, 10 … 100 ms: ``sqliteDefaultBusyCallback``); with several serving
    processes (``jifen run --workers``) a writer slept through most of the others' commits —
    measured on B5 with two workers, p99 of 560 ms. ``flock`` wakes the next writer when the
    turn is given back. The kernel drops a dead process's turn; the gate is per connection, so
    connections of one process take turns too. Blocks the calling thread: a lane or the
    connection's own thread, never the event loop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._held = False

    def enter(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._held = True

    def leave(self) -> None:
        if self._held and self._fd is not None:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.leave()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def in_place(conn: Any) -> sqlite3.Connection | None:
    """The sqlite3 connection under SQLAlchemy's ``conn`` when the caller runs on a lane (its
    calls return in place), its transaction's pending ``BEGIN`` sent first; None elsewhere."""
    if current_lane() is None:
        return None
    aio = conn.connection.driver_connection
    if not isinstance(aio, _OneHopConnection) or aio._connection is None:
        return None
    raw: sqlite3.Connection = aio._conn
    begin = aio.take_begin()
    if begin is not None:
        aio.begin_on(raw, begin)
    return raw


class Lane:
    """A thread with an event loop of its own that runs whole units of work, their SQLite calls
    made inline (``_OneHopConnection._execute``): one thread hop per unit of work instead of one
    per statement, and the serving loop never waits on a database call. One lane writes (SQLite
    has one writer) and one reads: measured on B2, a second reading lane cost more (a third
    Python thread wanting the GIL) than it gave."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.lock = asyncio.Lock()  # the write lock of the units of work on this lane
        self.busy = 0  # units of work sent here and not finished
        # The connection the units of work here use while it is free (core.db): checking one
        # out of the pool and returning it cost about as much as the ORM session itself.
        self.connection: AsyncConnection | None = None
        self.connection_in_use = False
        # the end, queued on this loop, of the read snapshot its reads share (core.db)
        self.snapshot_end: asyncio.Task[None] | None = None
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
        _HERE.lane = self
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


def beside(url: str | URL, suffix: str) -> str | None:
    """A file next to an on-disk SQLite database (its path + ``suffix``), for the locks the
    processes sharing it take; None for an in-memory database, which has one process."""
    url = make_url(url)
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return f"{database}{suffix}"


def write_gate_path(engine: AsyncEngine) -> str | None:
    """The file whose lock is the writers' turn (``WriteGate``); None in memory."""
    return beside(engine.url, ".writing")


def setup_sqlite(engine: AsyncEngine, *, reader: bool) -> None:
    # pysqlite's own BEGIN is deferred, so two writers would both read and then fail on upgrade;
    # BEGIN IMMEDIATE takes the write lock up front (SQLAlchemy docs, "Serializable isolation /
    # Savepoints / Transactional DDL" recipe for pysqlite/aiosqlite). The reader engine's
    # connections are query_only and begin a deferred transaction: a consistent WAL snapshot that
    # neither waits for nor blocks the writer.
    gate_path = None if reader else write_gate_path(engine)

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
            if gate_path is not None:
                cast(_OneHopConnection, aio).gate = WriteGate(gate_path)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        sql = "BEGIN" if reader else "BEGIN IMMEDIATE"
        aio = conn.connection.driver_connection
        if isinstance(aio, _OneHopConnection):
            aio.defer_begin(sql)  # sent with the first statement, in the same thread call
        else:
            conn.exec_driver_sql(sql)
