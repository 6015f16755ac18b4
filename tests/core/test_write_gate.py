"""The writers' turn on an SQLite file (``core.sqlite.WriteGate``): a ``flock`` on
``<database file>.writing`` held exactly while a write transaction is open — on the serving
loop's connections and on the writing lane, given back after a commit and after a rollback —
never by a read, and making a second database object (as another process would) wait its turn."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from core.db import Database
from core.models import IdempotencyKey, utcnow
from core.sqlite import write_gate_path


@pytest.fixture
async def gated(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "gate.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db, Path(f"{path}.writing")
    await db.dispose()


def _taken(gate: Path) -> bool:
    """Whether some descriptor holds the gate (tried with a descriptor of our own)."""
    fd = os.open(gate, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _row(key: str) -> IdempotencyKey:
    return IdempotencyKey(key=key, result="{}", created_at=utcnow())


async def test_a_write_transaction_holds_the_gate_until_it_commits(
        gated: tuple[Database, Path]) -> None:
    db, gate = gated
    async with db.uow() as s:  # the serving loop's connection
        s.add(_row("gate:1"))
        await s.flush()
        assert _taken(gate)
    assert not _taken(gate)

    async def on_lane(s: AsyncSession) -> bool:
        s.add(_row("gate:2"))
        await s.flush()
        return _taken(gate)

    assert await db.run(on_lane) is True  # the writing lane's connection
    assert not _taken(gate)


async def test_a_rolled_back_write_gives_the_gate_back(gated: tuple[Database, Path]) -> None:
    db, gate = gated

    async def fails(s: AsyncSession) -> None:
        s.add(_row("gate:3"))
        await s.flush()
        raise LookupError("refused")

    with pytest.raises(LookupError):
        await db.run(fails, attempts=1)
    assert not _taken(gate)
    with pytest.raises(LookupError):
        async with db.uow() as s:
            await fails(s)
    assert not _taken(gate)
    async with db.reading() as r:
        assert await r.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


async def test_reads_never_take_the_gate_and_another_writer_waits_its_turn(
        gated: tuple[Database, Path]) -> None:
    db, gate = gated
    other = Database(db.url)  # another process's connections, as far as the gate can tell
    try:
        async with db.uow() as s:
            s.add(_row("gate:first"))
            await s.flush()

            async def count(r: AsyncSession) -> int:
                return int(await r.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)

            assert await other.read(count) == 0  # a read goes on; it sees the last commit

            async def second(w: AsyncSession) -> int:
                seen = await count(w)
                w.add(_row("gate:second"))
                return seen

            waiting = asyncio.ensure_future(other.run(second))
            for _ in range(5):
                await asyncio.sleep(0.02)
            assert not waiting.done()  # its BEGIN waits for the gate
        assert await waiting == 1  # it began after the first commit and saw it
        assert not _taken(gate)
    finally:
        await other.dispose()


def test_an_in_memory_database_has_no_gate(tmp_path: Path) -> None:
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:",
                "sqlite+aiosqlite:///file:shared?mode=memory&uri=true"):
        assert write_gate_path(create_async_engine(url)) is None, url
    on_disk = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    assert write_gate_path(on_disk) == f"{tmp_path / 'j.db'}.writing"
