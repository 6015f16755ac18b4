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
from sqlalchemy import bindparam, delete, event, func, inspect, literal, or_, select, update
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
_RENAME = (update(Employee).where(Employee.employee_id == bindparam("who"))
           .values(name=bindparam("new_name")))
_NAME = select(Employee.name).where(Employee.employee_id == bindparam("employee_id"))
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


async def test_a_read_on_a_lane_runs_on_its_connection_and_a_session_holding_objects_is_closed(
        lanes: Database) -> None:
    """A read's statements go to the lane's connection, in the snapshot it is in, without the
    session beginning a transaction of its own; a read that loaded ORM objects still has its
    session closed at the end (the objects detached), and a write still begins its session's
    transaction, with the write lock, at its first statement."""
    async def fill(s: AsyncSession) -> None:
        s.add_all(Employee(employee_id=f"R{i}", name=f"r{i}", department="sales")
                  for i in range(3))

    await lanes.run(fill)
    since = {"since": datetime(2000, 1, 1, tzinfo=UTC)}

    async def plain(s: AsyncSession) -> tuple[int, bool]:
        found = await columns.rows(s, _SELECT, since)
        return len(found), s.in_transaction()

    assert await lanes.read(plain) == (3, False)

    async def with_object(s: AsyncSession) -> tuple[Employee, int]:
        person = await s.get(Employee, "R0")
        assert person is not None
        return person, len(await columns.rows(s, _SELECT, since))

    person, count = await lanes.read(with_object)
    assert count == 3 and inspect(person).detached

    async def write(s: AsyncSession) -> tuple[bool, bool]:
        await columns.execute(s, _RENAME, {"who": "R1", "new_name": "renamed"})
        raw = (await (await s.connection()).get_raw_connection()).driver_connection
        return s.in_transaction(), bool(raw._conn.in_transaction)  # type: ignore[union-attr]

    assert await lanes.run(write) == (True, True)
    assert await lanes.read(lambda s: columns.scalar(s, _NAME, {"employee_id": "R1"})) == "renamed"


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


async def test_rows_inserted_in_place_read_back_as_through_sqlalchemy(lanes: Database) -> None:
    """A multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (the inbox accept) and an
    executemany leaving defaulted columns out (the outbox's reply rows) store what SQLAlchemy's
    path stores: JSON, aware datetimes, the columns' defaults; a key taken is skipped."""
    from core import inbox
    from core.models import InboxEvent, OutboxMessage
    from core.outbox import queue
    from core.outbox.recipient import Recipient

    at = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)

    def arrivals(tag: str) -> list[inbox.Arrival]:
        return [inbox.Arrival(f"{tag}{i % 3}", {"n": i, "text": "积分 ✓", "at": None}, at,
                              at + timedelta(seconds=i)) for i in range(4)]

    async def accept_and_reply(s: AsyncSession, tag: str) -> list[int | None]:
        ids = await inbox.accept_many(s, arrivals(tag))
        for i in range(2):
            await queue(s, recipient=Recipient.employee(f"E{i}"), kind="reply",
                              payload={"i": i}, now=at, dedupe_key=f"{tag}:{i}", fresh=True)
        return ids

    inserts: list[tuple[str, bool]] = []  # (table, run in place: no SQLAlchemy cursor)

    def on_execute(_conn: object, cursor: object, sql: str, *_rest: object) -> None:
        if sql.startswith("INSERT"):
            inserts.append((sql.split()[2], cursor is None))

    event.listen(lanes.engine.sync_engine, "before_cursor_execute", on_execute)
    for tag in ("a", "b", "c"):  # the statements are planned on their second run
        ids = await lanes.run(lambda s, tag=tag: accept_and_reply(s, tag))  # type: ignore[misc]
        assert ids[3] is None and None not in ids[:3]  # a3 repeats a0's key
    async with lanes.uow() as s:  # off the lanes: SQLAlchemy's path
        await accept_and_reply(s, "d")
    # (the first run may already be in place: other tests in this process ran these statements)
    assert inserts[2:] == [("inbox", True), ("outbox", True), ("inbox", True), ("outbox", True),
                           ("inbox", False), ("outbox", False)]

    async def stored(s: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
        events = (await s.execute(select(InboxEvent.key, InboxEvent.payload, InboxEvent.state,
                                         InboxEvent.attempts, InboxEvent.lease_until,
                                         InboxEvent.created_at).order_by(InboxEvent.key))).all()
        replies = (await s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.recipient,
                                          OutboxMessage.status, OutboxMessage.attempts,
                                          OutboxMessage.lane, OutboxMessage.payload,
                                          OutboxMessage.created_at, OutboxMessage.platform)
                                   .order_by(OutboxMessage.dedupe_key))).all()
        by: dict[str, list[tuple[Any, ...]]] = {}
        for row in [*map(tuple, events), *map(tuple, replies)]:
            by.setdefault(str(row[0])[0], []).append(row[1:])
        return by

    by_tag = await lanes.read(stored)
    assert by_tag["c"] == by_tag["d"] and by_tag["b"] == by_tag["d"]  # in place == SQLAlchemy
    assert by_tag["d"][0] == ({"n": 0, "text": "积分 ✓", "at": None}, "pending", 0, at, at)
    assert by_tag["d"][-1][1:3] == ("pending", 0) and by_tag["d"][-1][5] == at  # defaults


async def test_more_rows_than_sqlite_takes_parameters_for_go_through_sqlalchemy(
        lanes: Database) -> None:
    """With SQLite's limit on parameters lowered to 100 (and SQLAlchemy told so), an accept of
    40 inbox rows (240 parameters) is still stored, in SQLAlchemy's batches."""
    import sqlite3

    from core import inbox

    at = datetime(2026, 3, 1, tzinfo=UTC)

    async def lower(s: AsyncSession) -> None:
        conn = await s.connection()
        raw = conn.sync_connection.connection.driver_connection._conn  # type: ignore[union-attr]
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)

    await lanes.run(lower)  # the writing lane's kept connection
    lanes.engine.dialect.insertmanyvalues_max_parameters = 100
    for tag, n in (("s", 2), ("t", 2), ("u", 40)):  # the first two plan the statement
        ids = await lanes.run(lambda s, tag=tag, n=n: inbox.accept_many(  # type: ignore[misc]
            s, [inbox.Arrival(f"{tag}{i}", {}, at, at) for i in range(n)]))
        assert len(set(ids)) == n and None not in ids
