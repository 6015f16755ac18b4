"""``core.upsert.insert_do_nothing`` on a real database: a conflicting row is skipped (RETURNING
names only the rows inserted), and the statement is compiled once and then taken from the
engine's statement cache — SQLAlchemy 2.0's own ``on_conflict_do_nothing`` is compiled anew on
every execution."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import IdempotencyKey, utcnow
from core.upsert import do_nothing, insert_do_nothing

_KEYS = cast(Table, IdempotencyKey.__table__)


def _rows(*keys: str) -> list[dict[str, Any]]:
    return [{"key": k, "result": "{}", "created_at": utcnow()} for k in keys]


async def test_conflicts_are_skipped_and_the_statement_is_compiled_once(db: Database) -> None:
    stmt = insert_do_nothing(_KEYS, db.dialect, ["key"]).returning(_KEYS.c.key)
    compiled: list[object] = []

    def seen(_conn: object, _cur: object, sql: str, _params: object, context: Any,
             _many: bool) -> None:
        if "ON CONFLICT" in sql:
            compiled.append(context.compiled)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async def insert(s: AsyncSession, keys: tuple[str, ...]) -> list[str]:
            return sorted((await s.execute(stmt, _rows(*keys))).scalars().all())

        assert await db.run(lambda s: insert(s, ("up:a", "up:b"))) == ["up:a", "up:b"]
        assert await db.run(lambda s: insert(s, ("up:b", "up:c"))) == ["up:c"]
        assert await db.run(lambda s: insert(s, ("up:d", "up:e"))) == ["up:d", "up:e"]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(compiled) == 3 and all(c is compiled[0] for c in compiled)  # from the cache
    stored = await db.read(lambda s: s.scalars(select(IdempotencyKey.key)
                                               .where(IdempotencyKey.key.like("up:%"))))
    assert sorted(stored) == ["up:a", "up:b", "up:c", "up:d", "up:e"]


def test_the_conflict_target_and_the_dialect_are_part_of_the_cache_key() -> None:
    def key(dialect: str, target: list[str]) -> object:
        built = insert_do_nothing(_KEYS, dialect, target)._generate_cache_key()  # noqa: SLF001
        assert built is not None  # cacheable at all
        return built.key

    assert key("sqlite", ["key"]) == key("sqlite", ["key"])
    assert key("sqlite", ["key"]) != key("sqlite", ["result"])
    assert key("postgresql", ["key"]) != key("postgresql", ["result"])
    assert key("sqlite", ["key"]) != key("postgresql", ["key"])


def test_do_nothing_hands_out_one_statement_per_combination() -> None:
    one = do_nothing(_KEYS, "sqlite", ("key",), (_KEYS.c.key,))
    assert do_nothing(_KEYS, "sqlite", ("key",), (_KEYS.c.key,)) is one
    assert do_nothing(_KEYS, "postgresql", ("key",), (_KEYS.c.key,)) is not one
    assert do_nothing(_KEYS, "sqlite", ("key",), (_KEYS.c.result,)) is not one
