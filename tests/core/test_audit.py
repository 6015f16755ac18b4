"""The audit log: written by the HR services whatever the surface, append-only on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.app import DB_KEY
from core.audit.service import AuditFilter, entries, record
from core.db import Database
from core.models import AuditEntry, utcnow
from tests.cli_helpers import jifen
from tests.platforms.playground.conftest import playground_settings


async def test_record_and_filter(db: Database) -> None:
    now = utcnow()
    async with db.uow() as s:
        await record(s, actor="api", action="grant", subject="employee:E1", now=now,
                     before={"balance": 0}, after={"balance": 5})
        await record(s, actor="E2", action="deduct", subject="employee:E1", now=now)
    async with db.uow() as s:
        rows = await entries(s, where=AuditFilter(actor="api"), limit=10)
        assert [(r.action, r.before, r.after) for r in rows] == [
            ("grant", {"balance": 0}, {"balance": 5})]
        both = await entries(s, where=AuditFilter(subject="employee:E1"), limit=10)
        assert [r.actor for r in both] == ["api", "E2"]
        assert await entries(s, where=AuditFilter(after_id=both[-1].id), limit=10) == []


async def test_rolled_back_change_leaves_no_entry(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.uow() as s:
            await record(s, actor="api", action="grant", subject="x", now=utcnow())
            raise RuntimeError("boom")
    async with db.uow() as s:
        assert list(await s.scalars(select(AuditEntry))) == []


async def test_postgres_refuses_update_and_delete(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("the append-only trigger is PostgreSQL's (like the ledger's)")
    async with db.uow() as s:
        await record(s, actor="api", action="grant", subject="x", now=utcnow())
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.uow() as s:
                await s.execute(text(statement))


async def test_chat_hr_commands_are_audited(tmp_path: Path, aiohttp_client: object) -> None:
    from bot.app import build

    app = await build(playground_settings(tmp_path), background=False)  # the demo organisation
    client = await aiohttp_client(app)  # type: ignore[operator]
    for line in ("发放 @刘洋 20 季度之星", "扣除 @刘洋 5 迟到"):
        resp = await client.post("/playground/api/send", json={"as": "E002", "text": line})
        assert resp.status == 200
    async with app[DB_KEY].uow() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.actor == "E002")
                                    .order_by(AuditEntry.id)))
    assert [(r.action, r.subject) for r in rows] == [("grant", "employee:E006"),
                                                     ("deduct", "employee:E006")]


def test_cli_changes_are_audited(sqlite_template: Path, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    path = tmp_path / "j.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    csv = tmp_path / "people.csv"
    csv.write_text("employee_id,name\nC1,命令行\n", encoding="utf-8")
    assert jifen("employees", "import", str(csv), db_url=url).returncode == 0
    assert jifen("grant", "C1", "10", "--reason", "脚本发放", db_url=url).returncode == 0
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT actor, action, subject FROM audit_log ORDER BY id").fetchall()
    assert rows == [("cli", "employees.import", "employee:C1"), ("cli", "grant", "employee:C1")]
