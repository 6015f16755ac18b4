"""PostgreSQL connections are kept open across bursts: every event's units of work check one out,
and a connection opened past the kept ones was closed again on return (TLS, authentication and
a backend's start each time). So none is opened past the kept ones."""

from __future__ import annotations

import asyncio
import gc

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

import core.db
from core.db import PG_POOL_EXTRA, PG_POOL_KEPT, Database, admin_execute


async def _burst(db: Database, n: int) -> None:
    """``n`` units of work at once, each holding its connection until all hold one."""
    holding, all_hold = 0, asyncio.Event()

    async def hold(s: AsyncSession) -> None:
        nonlocal holding
        await s.execute(text("SELECT 1"))
        holding += 1
        if holding == n:
            all_hold.set()
        await all_hold.wait()

    await asyncio.wait_for(asyncio.gather(*(db.run(hold) for _ in range(n))), 20)


async def test_postgres_keeps_its_connections_through_bursts(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pool; SQLite's units of work run on lanes with kept connections")
    opened: list[object] = []
    event.listen(db.engine.sync_engine, "connect", lambda conn, _rec: opened.append(conn))
    most = PG_POOL_KEPT + PG_POOL_EXTRA  # as many units of work at once as may hold one
    await _burst(db, most)
    first = len(opened)
    await _burst(db, most)
    assert first > 0 and len(opened) == first  # the second burst opened none: all were kept


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each ping the driver's connection answers (SQLAlchemy's asyncpg adapter)."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection as Adapted

    seen: list[object] = []
    original = Adapted.ping

    def counted(self: Adapted) -> None:
        seen.append(self)
        original(self)

    monkeypatch.setattr(Adapted, "ping", counted)
    return seen


async def _backend(s: AsyncSession) -> int:
    return int(await s.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_postgres_pings_only_a_connection_that_sat_idle(
        db: Database, pings: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Units of work one after another use their connection without a ping (three round trips
    each); one idle past PG_PING_IDLE_S is pinged first, and one that died meanwhile (the server
    ended its backend) is replaced without the unit of work noticing."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pool")
    for _ in range(10):
        await db.run(_backend)
    assert pings == []
    pid = await db.run(_backend)
    # the server ends the kept connection's backend (asked over a connection of another engine)
    await admin_execute(db.url, f"SELECT pg_terminate_backend({pid})")
    monkeypatch.setattr(core.db, "PG_PING_IDLE_S", 0.0)  # every kept connection counts as idle
    assert await db.run(_backend) not in (0, pid)  # answered, on another backend
    assert pings


async def test_postgres_units_of_work_cancelled_midway_give_their_connections_back(
        db: Database) -> None:
    """A unit of work cancelled midway (a client hung up) is rolled back and its session
    closed, its connection back in the pool at once. Not left to the garbage
    collector: that cannot reset an asyncpg connection, and until it runs (a cancelled task's
    traceback is a reference cycle; the collector is held off here to see it) the connection
    stays out of the pool, and the pool has no connections to spare."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pool; a unit of work on a SQLite lane is never cancelled")
    started = asyncio.Event()

    async def slow(s: AsyncSession) -> None:
        await s.execute(text("SELECT 1"))  # its transaction open, its connection checked out
        started.set()
        await asyncio.Event().wait()  # waits on something else than the database

    gc.disable()
    try:
        for _ in range(3):
            started.clear()
            task = asyncio.ensure_future(db.run(slow))
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        gc.enable()
    assert await asyncio.wait_for(db.run(_backend), 10) > 0
