"""The SQL a chat command costs, counted through the real dispatcher (Design, "The event
path's budget"). A count, not a time: an extra statement on the hottest path — `积分` is most of
chat traffic — is a regression this catches on any machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbox.codec import encode
from bot.runtime.events import event_key, playground_event
from core import inbox
from core.db import Database
from core.policy import Policy
from tests.bot.test_approval_step import _dispatcher
from tests.core.test_awards import give, org


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements ``db`` runs inside the block, on the writer and (SQLite) reader engines;
    SQLite's BEGIN travels with the first statement (core.db), so it is recorded by the event."""
    seen: list[str] = []

    def on_execute(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        seen.append(sql.split()[0].upper())

    def on_begin(_conn: object) -> None:
        seen.append("BEGIN")

    engines: list[AsyncEngine] = list({id(e): e for e in (db.engine, db.reader)}.values())
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        if db.is_sqlite:
            event.listen(engine.sync_engine, "begin", on_begin)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
            if db.is_sqlite:
                event.remove(engine.sync_engine, "begin", on_begin)


async def test_a_balance_reply_reads_the_sender_and_the_balance_and_records_its_answer(
        db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    await give(db, policy, now, "M1", ["E1"], 5)
    dispatcher = _dispatcher(db, policy, now)
    for manager in (False, True):  # E1 has no reports; M1 has three (the allowance counts them)
        who = "M1" if manager else "E1"
        with statements(db) as seen:
            [card] = await dispatcher.handle(playground_event(who, "积分", message_id=uuid.uuid4().hex))
        assert "积分" in card.title
        begin = ["BEGIN"] if db.is_sqlite else []
        # the read: the sender with roles, then the lots with the allowance used (and, with
        # allowance.per_report, the reports it adds); the answer: its event key claimed
        reports = ["SELECT"] if manager and policy.allowance.per_report else []
        assert seen == [*begin, "SELECT", "SELECT", *reports, *begin, "INSERT"], seen


async def test_an_event_from_the_inbox_is_answered_by_marking_its_row(
        db: Database, policy: Policy, now: datetime) -> None:
    """Through the inbox the event's row is its record: the answer marks it done (one
    conditional UPDATE) and writes no idempotency record of its own."""
    await org(db)
    await give(db, policy, now, "M1", ["E1"], 5)
    dispatcher = _dispatcher(db, policy, now)
    event = playground_event("E1", "积分", message_id=uuid.uuid4().hex)
    row = await inbox.accept(db, event_key(event), encode(event), now=now, lease_until=now)
    with statements(db) as seen:
        [card] = await dispatcher.handle(event, row)
    assert "积分" in card.title
    begin = ["BEGIN"] if db.is_sqlite else []
    assert seen == [*begin, "SELECT", "SELECT", *begin, "UPDATE"], seen
