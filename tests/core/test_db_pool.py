"""PostgreSQL connections are kept open across bursts: every event's units of work check one out,
and a connection opened past the kept ones was closed again on return (TLS, authentication and
a backend's start each time). So none is opened past the kept ones."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import PG_POOL_EXTRA, PG_POOL_KEPT, Database


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
