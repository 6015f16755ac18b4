"""Group commit on a real database: items submitted together share one transaction, each caller
gets its own result after the commit, and an item that cannot be written fails only its caller."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, GroupCommit
from core.models import IdempotencyKey, utcnow


async def _store(s: AsyncSession, keys: list[str]) -> list[str]:
    for key in keys:
        s.add(IdempotencyKey(key=key, result="{}", created_at=utcnow()))
    await s.flush()
    return [f"stored {key}" for key in keys]


def _commits(db: Database) -> list[int]:
    n = [0]

    @event.listens_for(db.engine.sync_engine, "commit")
    def _commit(_conn: object) -> None:
        n[0] += 1

    return n


async def _keys(db: Database) -> list[str]:
    async with db.uow() as s:
        return sorted((await s.scalars(select(IdempotencyKey.key)
                                       .where(IdempotencyKey.key.like("gc:%")))).all())


async def test_items_submitted_together_share_one_commit(db: Database) -> None:
    group = GroupCommit(db, _store)
    commits = _commits(db)
    keys = [f"gc:{i}" for i in range(5)]
    assert await asyncio.gather(*(group.submit(k) for k in keys)) == [f"stored {k}" for k in keys]
    assert commits[0] == 1
    assert await _keys(db) == keys
    assert await group.submit("gc:late") == "stored gc:late"  # alone: no waiting for company


async def test_an_item_that_cannot_be_written_fails_alone(db: Database) -> None:
    async with db.uow() as s:
        s.add(IdempotencyKey(key="gc:taken", result="{}", created_at=utcnow()))
    group = GroupCommit(db, _store)
    results = await asyncio.gather(*(group.submit(k) for k in ("gc:a", "gc:taken", "gc:b")),
                                   return_exceptions=True)
    assert results[0] == "stored gc:a" and results[2] == "stored gc:b"
    assert isinstance(results[1], IntegrityError)
    assert await _keys(db) == ["gc:a", "gc:b", "gc:taken"]


async def test_a_batch_larger_than_the_limit_is_split(db: Database) -> None:
    group = GroupCommit(db, _store, max_batch=2)
    commits = _commits(db)
    keys = [f"gc:{i}" for i in range(5)]
    await asyncio.gather(*(group.submit(k) for k in keys))
    assert commits[0] == 3
    assert await _keys(db) == keys


@pytest.fixture(autouse=True)
def _seeded(db: Database) -> None:
    """The template database is already migrated; nothing else to seed."""
