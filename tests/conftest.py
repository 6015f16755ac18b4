"""Database fixtures: every test that takes ``db`` runs on SQLite and, when
``JIFEN_TEST_POSTGRES_URL`` is set, on PostgreSQL too (in a database of its own for this run)."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config.policy_loader import load_policy
from core.db import Database, admin_execute
from core.models import Base
from core.policy import Policy
from migrations.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("JIFEN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]


def _alive(pid: str) -> bool:
    return not pid.isdigit() or os.path.exists(f"/proc/{pid}")


async def _drop_orphans(url: str) -> None:
    """Drop test databases left by runs that were killed before their cleanup (dead pid)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = list(await conn.scalars(text(
                "SELECT datname FROM pg_database WHERE datname LIKE 'jifen\\_t\\_%'")))
    finally:
        await engine.dispose()
    dead = [n for n in names if not _alive(n.split("_")[2])]
    if dead:
        await admin_execute(url, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in dead))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database for this test run, dropped at the end (the ``test`` database is shared)."""
    if not PG_URL:
        pytest.skip("PostgreSQL variant: set JIFEN_TEST_POSTGRES_URL to run it")
    asyncio.run(_drop_orphans(PG_URL))
    name = f"jifen_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_execute(PG_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(admin_execute(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "jifen.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


async def _reset_postgres(db: Database) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await conn.execute(text(
            "INSERT INTO accounts (code, kind, balance) SELECT 'system:' || n, 'system', 0 FROM "
            "unnest(ARRAY['issuance','escrow','redeemed','expired','adjustment']) AS n"
        ))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "jifen.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    if not database.is_sqlite:
        await _reset_postgres(database)
    yield database
    await database.dispose()


@pytest.fixture
def policy() -> Policy:
    return load_policy(ROOT / "config" / "policy.yaml")


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 15, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """A served app (``build_served``, as ``jifen run``) freezes the heap and sets the
    collector's thresholds once started: undone afterwards, so the rest of the process collects
    as before."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
