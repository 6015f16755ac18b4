"""SQLite units of work on a real database file: the transaction's BEGIN travels with its first
statement (one thread call, not two) yet still takes the write lock at once, a finished
transaction is not rolled back again by the pool, and a failed unit of work is rolled back."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import IdempotencyKey, utcnow


@pytest.fixture
def db_file(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "hops.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
async def sqlite_db(db_file: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = db_file
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database, path
    await database.dispose()


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What each call to a connection's thread did: its SQL's first two words, or the method."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object,
                      **kwargs: object) -> object:
        sql = [a for a in args if isinstance(a, str)]
        calls.append(" + ".join(" ".join(s.split()[:2]) for s in sql) or getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield calls


def _locked(path: Path) -> bool:
    """Whether another connection is refused the write lock right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        other.close()


async def test_a_write_unit_of_work_is_two_thread_calls_and_holds_the_lock(
        sqlite_db: tuple[Database, Path], thread_calls: list[str]) -> None:
    db, path = sqlite_db
    async with db.uow() as s:  # warm: the pool's first connect
        await s.scalar(select(1))
    thread_calls.clear()
    seen: list[bool] = []

    async with db.uow() as s:  # on the serving loop (run() would use the writer lane)
        await s.scalar(select(func.count()).select_from(IdempotencyKey))
        seen.append(_locked(path))
    assert thread_calls == ["BEGIN IMMEDIATE + SELECT count(*)", "commit"]
    assert seen == [True]  # BEGIN IMMEDIATE ran with the first statement
    assert not _locked(path)


async def test_a_read_takes_no_lock_and_ends_its_snapshot(
        sqlite_db: tuple[Database, Path], thread_calls: list[str]) -> None:
    db, path = sqlite_db
    async with db.reading() as s:
        await s.scalar(select(1))
    thread_calls.clear()
    seen: list[bool] = []

    async with db.reading() as s:  # on the serving loop (read() would use the reading lane)
        await s.scalar(select(1))
        seen.append(_locked(path))
    assert thread_calls == ["BEGIN + SELECT 1", "rollback"]  # the snapshot ends; nothing to commit
    assert seen == [False]


async def test_a_unit_of_work_without_statements_calls_no_thread(
        sqlite_db: tuple[Database, Path], thread_calls: list[str]) -> None:
    db, _ = sqlite_db

    async def nothing(_s: AsyncSession) -> None:
        return None

    await db.run(nothing)  # the first opens the lane's connection
    thread_calls.clear()
    await db.run(nothing)
    assert thread_calls == []


async def test_a_failed_unit_of_work_is_rolled_back(sqlite_db: tuple[Database, Path],
                                                    thread_calls: list[str]) -> None:
    db, path = sqlite_db

    async def fails(s: AsyncSession) -> None:
        s.add(IdempotencyKey(key="hops:1", result="{}", created_at=utcnow()))
        await s.flush()
        raise RuntimeError("after the write")

    with pytest.raises(RuntimeError):
        async with db.uow() as s:  # on the serving loop: the rollback is a call of its own
            await fails(s)
    assert thread_calls[-1] == "rollback"
    assert not _locked(path)
    with pytest.raises(RuntimeError):
        await db.run(fails)  # on the writer lane
    assert not _locked(path)
    assert await db.read(lambda s: s.scalar(
        select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == "hops:1"))) == 0
    # the connection is fine for the next unit of work
    await db.run(lambda s: s.execute(text("SELECT 1")))


async def test_concurrent_reads_reuse_their_connections(sqlite_db: tuple[Database, Path]) -> None:
    """Reads in flight at once each hold a reader connection; the next wave finds them all open
    again instead of connecting (a thread and its PRAGMAs each) and closing once more."""
    db, _ = sqlite_db
    connects: list[object] = []
    event.listen(db.reader.sync_engine, "connect", lambda conn, _rec: connects.append(conn))

    async def held() -> int:
        async with db.reading() as s:  # on the serving loop: each read its own connection
            value = await s.scalar(select(1))
            await asyncio.sleep(0.05)  # keep the connection checked out while the others start
            return int(value or 0)

    async def wave() -> list[int]:
        return list(await asyncio.gather(*(held() for _ in range(20))))

    assert await wave() == [1] * 20
    first = len(connects)
    assert first == 20  # every read in flight had a connection of its own
    assert await wave() == [1] * 20
    assert len(connects) == first


async def test_run_and_read_make_no_hop_per_statement_and_leave_the_loop_free(
        sqlite_db: tuple[Database, Path], thread_calls: list[str]) -> None:
    """``run`` and ``read`` send the whole unit of work to a database thread of its own (a lane),
    which calls sqlite3 directly: not one call to a connection's thread for its statements,
    BEGIN or COMMIT; and the serving loop is not the one that waits."""
    db, path = sqlite_db
    loop_thread = threading.get_ident()
    threads: list[int] = []

    async def write(s: AsyncSession) -> int:
        threads.append(threading.get_ident())
        await s.execute(text("INSERT INTO idempotency_keys (key, result, created_at) "
                             "VALUES ('lane:1', '{}', '2026-01-01')"))
        return int(await s.scalar(select(func.count()).select_from(IdempotencyKey)
                                  .where(IdempotencyKey.key == "lane:1")) or 0)

    async def read(s: AsyncSession) -> int:
        threads.append(threading.get_ident())
        return int(await s.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)

    await db.run(lambda s: s.scalar(select(1)))  # warm: each lane's first connect
    await db.read(lambda s: s.scalar(select(1)))
    thread_calls.clear()
    assert await db.run(write) == 1
    assert await db.read(read) >= 1
    assert thread_calls == []
    assert loop_thread not in threads and len(set(threads)) == 2  # a writing and a reading lane

    # a unit of work waiting for SQLite's lock waits on its lane; the serving loop runs on
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    waiting = asyncio.ensure_future(db.run(write))
    for _ in range(5):
        await asyncio.sleep(0.01)
        assert not waiting.done()  # blocked on the lock, while this loop went round
    other.execute("ROLLBACK")
    other.close()
    with pytest.raises(IntegrityError):  # lane:1 exists: the same unit of work, now run
        await waiting


async def test_the_lanes_stop_with_dispose_and_start_again(db_file: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{db_file}")
    await db.run(lambda s: s.scalar(select(1)))
    await db.read(lambda s: s.scalar(select(1)))
    names = {t.name for t in threading.enumerate()}
    assert {"jifen-db-write", "jifen-db-read"} <= names
    await db.dispose()
    assert not {"jifen-db-write", "jifen-db-read"} & {t.name for t in threading.enumerate()}
    assert await db.run(lambda s: s.scalar(text("SELECT 2"))) == 2  # used after dispose: anew
    await db.dispose()
    assert not {"jifen-db-write", "jifen-db-read"} & {t.name for t in threading.enumerate()}


async def test_units_of_work_handed_over_together_each_answer_their_own_caller(
        sqlite_db: tuple[Database, Path]) -> None:
    db, _ = sqlite_db

    async def echo(n: int) -> int:
        async def work(s: AsyncSession) -> int:
            value = int(await s.scalar(text(f"SELECT {n}")) or 0)
            if value % 7 == 0:
                raise ValueError(value)
            return value
        return await db.run(work) if n % 2 else await db.read(work)

    results = await asyncio.gather(*(echo(n) for n in range(1, 60)), return_exceptions=True)
    for n, result in zip(range(1, 60), results, strict=True):
        if n % 7 == 0:
            assert isinstance(result, ValueError) and result.args == (n,)
        else:
            assert result == n


async def test_a_unit_of_work_whose_caller_gave_up_before_it_began_never_runs(
        sqlite_db: tuple[Database, Path]) -> None:
    db, path = sqlite_db
    await db.run(lambda s: s.scalar(select(1)))  # the writing lane is up
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the lane's next write waits in SQLite's busy handler
    blocked = asyncio.ensure_future(db.run(lambda s: s.execute(text(
        "INSERT INTO idempotency_keys (key, result, created_at) VALUES ('gave-up:1', '{}', "
        "'2026-01-01')"))))
    await asyncio.sleep(0.05)
    given_up = asyncio.ensure_future(db.run(lambda s: s.execute(text(
        "INSERT INTO idempotency_keys (key, result, created_at) VALUES ('gave-up:2', '{}', "
        "'2026-01-01')"))))
    await asyncio.sleep(0.01)
    given_up.cancel()
    other.execute("ROLLBACK")
    other.close()
    await blocked
    with pytest.raises(asyncio.CancelledError):
        await given_up
    keys = await db.read(lambda s: s.scalars(select(IdempotencyKey.key).where(
        IdempotencyKey.key.like("gave-up:%"))))
    assert list(keys) == ["gave-up:1"]


async def test_units_of_work_on_a_lane_keep_one_connection_and_share_none(
        sqlite_db: tuple[Database, Path]) -> None:
    """A lane's units of work use its own open connection, not a pool checkout each; one that
    waits on something else than SQLite keeps it, and a unit of work that starts meanwhile
    gets a connection of its own, so no two transactions ever share one."""
    db, _ = sqlite_db
    checkouts: list[object] = []
    for engine in (db.engine, db.reader):
        event.listen(engine.sync_engine, "checkout", lambda conn, _rec, _proxy: checkouts.append(conn))
    await db.run(lambda s: s.scalar(select(1)))
    await db.read(lambda s: s.scalar(select(1)))
    assert len(checkouts) == 2  # each lane's connection, opened on first use
    for n in range(20):
        assert await db.run(_selects(n)) == n
        assert await db.read(_selects(n)) == n
    with pytest.raises(ValueError):
        await db.run(_fails)
    assert len(checkouts) == 2

    started, gate = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    async def waits(s: AsyncSession) -> int:
        seen["waits"] = (await s.connection()).sync_connection
        started.set()
        await asyncio.to_thread(gate.wait, 10)  # awaits something else than SQLite
        return int(await s.scalar(select(1)) or 0)

    async def quick(s: AsyncSession) -> int:
        seen["quick"] = (await s.connection()).sync_connection
        return int(await s.scalar(text("SELECT 2")) or 0)

    slow = asyncio.ensure_future(db.read(waits))
    assert await asyncio.to_thread(started.wait, 10)
    assert await db.read(quick) == 2  # ran while the other read still held the lane's connection
    gate.set()
    assert await slow == 1
    assert seen["waits"] is not seen["quick"]
    assert len(checkouts) == 3


def _selects(n: int) -> Callable[[AsyncSession], Awaitable[int]]:
    async def work(s: AsyncSession) -> int:
        return int(await s.scalar(text(f"SELECT {n}")) or 0)
    return work


async def _fails(s: AsyncSession) -> None:
    await s.execute(text("INSERT INTO idempotency_keys (key, result, created_at) "
                         "VALUES ('lane:x', '{}', '2026-01-01')"))
    raise ValueError("rolled back")


def _checkpointed(path: Path) -> bool:
    """Whether the WAL could be copied back and emptied: no reader holds an old snapshot."""
    other = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return bool(busy == 0)
    finally:
        other.close()


def _remember(key: str) -> Callable[[AsyncSession], Awaitable[None]]:
    async def write(s: AsyncSession) -> None:
        s.add(IdempotencyKey(key=key, result="{}", created_at=utcnow()))
    return write


async def _keys(s: AsyncSession) -> list[str]:
    return sorted((await s.scalars(select(IdempotencyKey.key))).all())


async def test_reads_handed_over_together_share_one_snapshot_and_end_it(
        sqlite_db: tuple[Database, Path]) -> None:
    db, path = sqlite_db
    begun: list[object] = []
    event.listen(db.reader.sync_engine, "begin", lambda conn: begun.append(conn))
    started, gate = threading.Event(), threading.Event()

    async def holds_the_lane(s: AsyncSession) -> list[str]:
        keys = await _keys(s)
        started.set()
        gate.wait(10)  # the lane's loop stands still: what is handed over meanwhile waits
        return keys

    first = asyncio.ensure_future(db.read(holds_the_lane))
    assert await asyncio.to_thread(started.wait, 10)
    await db.run(_remember("k:1"))  # committed while the first read's snapshot is open
    batch = [asyncio.ensure_future(db.read(_keys)) for _ in range(10)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await first == []
    # handed over after the commit, all ten see it, from one snapshot begun for them together
    assert await asyncio.gather(*batch) == [["k:1"]] * 10
    assert len(begun) == 2
    assert _checkpointed(path)  # and that snapshot has ended


async def test_a_read_that_held_the_connection_past_its_snapshots_end_ends_it(
        sqlite_db: tuple[Database, Path]) -> None:
    db, path = sqlite_db
    started, gate = threading.Event(), threading.Event()

    async def waits(s: AsyncSession) -> list[str]:
        keys = await _keys(s)
        started.set()
        await asyncio.to_thread(gate.wait, 10)  # awaits something else than SQLite
        return keys + await _keys(s)

    slow = asyncio.ensure_future(db.read(waits))
    assert await asyncio.to_thread(started.wait, 10)
    await db.run(_remember("k:2"))
    assert await db.read(_keys) == ["k:2"]  # a connection of its own, a snapshot of its own
    gate.set()
    assert await slow == []  # one snapshot from its first statement to its last
    assert _checkpointed(path)
    assert await db.read(_keys) == ["k:2"]


async def test_a_lane_whose_connection_could_not_be_opened_keeps_one_once_it_can(
        tmp_path: Path, sqlite_template: Path) -> None:
    """A failed open (the file's folder not there yet) fails that unit of work only: once the
    file can be opened, the lane opens its connection and keeps it, as it would have at once."""
    path = tmp_path / "later" / "jifen.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(Exception, match="unable to open"):
            await db.run(lambda s: s.scalar(select(1)))
        path.parent.mkdir()
        shutil.copy(sqlite_template, path)
        checkouts: list[object] = []
        event.listen(db.engine.sync_engine, "checkout",
                     lambda conn, _rec, _proxy: checkouts.append(conn))
        for n in range(5):
            assert await db.run(_selects(n)) == n
        assert len(checkouts) == 1  # the lane's own, kept: not one of the pool's per unit of work
    finally:
        await db.dispose()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
async def test_an_in_memory_database_url_without_a_file_works(url: str) -> None:
    db = Database(url)
    try:
        await db.run(lambda s: s.execute(text("CREATE TABLE t (n INTEGER)")))
        await db.run(lambda s: s.execute(text("INSERT INTO t VALUES (7)")))
        assert await db.read(lambda s: s.scalar(text("SELECT n FROM t"))) == 7
    finally:
        await db.dispose()
