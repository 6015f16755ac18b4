"""Selects run on SQLite's driver in place (core.direct) give what SQLAlchemy gives: the same
rows with the same Python values (aware datetimes, booleans, dates, NULLs), with parameters
converted the same way, a value fixed in the statement, a parameter used twice; the engine's
listeners still see each statement; an expanding ``IN`` takes SQLAlchemy's path."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, delete, event, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import columns
from core.db import Database
from core.models import Employee

_SELECT = (
    select(Employee.employee_id, Employee.active, Employee.hire_date, Employee.created_at,
           Employee.manager_id, func.length(Employee.name), literal("fixed"))
    .where(or_(Employee.created_at >= bindparam("since"), Employee.updated_at >= bindparam("since")),
           Employee.department == "sales")
    .order_by(Employee.employee_id))
_IN = select(Employee.employee_id).where(
    Employee.employee_id.in_(bindparam("ids", expanding=True))).order_by(Employee.employee_id)


@pytest.fixture
async def lanes(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    """SQLite on disk: ``Database.read`` runs on the reading lane."""
    shutil.copy(sqlite_template, tmp_path / "direct.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}")
    yield database
    await database.dispose()


async def _both(db: Database, statement: Any, params: dict[str, Any],
                ) -> tuple[Sequence[Sequence[Any]], list[tuple[Any, ...]]]:
    """The rows in place (on the reading lane) and through SQLAlchemy (off the lanes)."""
    here = await db.read(lambda s: columns.rows(s, statement, params))
    async with db.reading() as s:
        there = [tuple(row) for row in (await s.execute(statement, params)).all()]
    return here, there


_stamp = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                      timezones=st.just(UTC))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(st.tuples(st.booleans(), st.none() | st.dates(date(1990, 1, 1), date(2030, 1, 1)),
                                 _stamp, st.none() | st.text("AB", min_size=1, max_size=3),
                                 st.text(min_size=1, max_size=8), st.sampled_from(["sales", "ops"])),
                       min_size=1, max_size=6),
       since=_stamp)
async def test_a_select_in_place_gives_what_sqlalchemy_gives(
        lanes: Database, people: list[tuple[Any, ...]], since: datetime) -> None:
    async def fill(s: AsyncSession) -> None:
        await s.execute(delete(Employee))
        s.add_all(Employee(employee_id=f"D{i}", name=name, department=dept, active=active,
                           hire_date=hired, created_at=created, updated_at=created - timedelta(days=1),
                           manager_id=manager)
                  for i, (active, hired, created, manager, name, dept) in enumerate(people))

    await lanes.run(fill)
    here, there = await _both(lanes, _SELECT, {"since": since})
    assert [tuple(row) for row in here] == there
    assert len(there) == sum(1 for p in people if p[5] == "sales" and p[2] >= since)
    for row in here:
        assert isinstance(row[1], bool) and row[3].tzinfo is UTC and row[6] == "fixed"


async def test_listeners_see_each_statement_and_only_statements_run_again_go_in_place(
        lanes: Database) -> None:
    """A module-level statement goes in place from its second run on (an expanding ``IN`` with a
    ``?`` per value, unless the list is empty); one built per call always takes SQLAlchemy's
    path."""
    async def fill(s: AsyncSession) -> None:
        s.add_all(Employee(employee_id=f"L{i}", name=f"n{i}", department="sales")
                  for i in range(3))

    await lanes.run(fill)
    seen: list[tuple[str, bool]] = []  # (SQL, run in place: no SQLAlchemy cursor)

    def on_execute(_conn: object, cursor: object, sql: str, *_rest: object) -> None:
        seen.append((sql, cursor is None))

    event.listen(lanes.reader.sync_engine, "before_cursor_execute", on_execute)
    since = {"since": datetime(2000, 1, 1, tzinfo=UTC)}
    first = await lanes.read(lambda s: columns.rows(s, _SELECT, since))
    again = await lanes.read(lambda s: columns.rows(s, _SELECT, since))
    assert [r[0] for r in first] == [r[0] for r in again] == ["L0", "L1", "L2"]
    assert len(seen) == 2 and "department" in seen[1][0] and seen[1][1]
    for ids, expected in ((["L0", "L2"], ["L0", "L2"]), (["L1"], ["L1"]), (["L0", "L1", "L2"], ["L0", "L1", "L2"]), ([], [])):
        found = await lanes.read(lambda s, ids=ids: columns.rows(s, _IN, {"ids": ids}))  # type: ignore[misc]
        assert [r[0] for r in found] == expected
    assert [in_place for _, in_place in seen[2:]] == [False, True, True, False]
    assert "IN (?, ?, ?)" in seen[4][0]
    for _ in range(2):
        count = await lanes.read(
            lambda s: columns.scalar(s, select(func.count()).select_from(Employee)))
        assert count == 3
    assert len(seen) == 8 and not seen[6][1] and not seen[7][1]
    async with lanes.reading() as s:  # off the lanes: SQLAlchemy's path
        assert len(await columns.rows(s, _SELECT, since)) == 3
    assert not seen[8][1]
