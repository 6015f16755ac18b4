"""Rows a unit of work inserts when it commits, all of one table in one statement.

A row that nothing reads back before the commit (an outbox message whose dedupe key is new, an
idempotency record) need not be a pending ORM object: the commit's flush of one such object
cost more Python work than the rest of a chat award's writes together (its unit-of-work
sorting, the object's attribute events and state). Kept as plain values in the session's
``info`` instead, they are inserted by the commit itself, just before its flush, with one
``executemany`` per table (on a SQLite lane on the driver in place, ``core.direct``), and
dropped when the transaction rolls back. The table's unique keys still guard them: a clash
fails the commit, as the flush's would.

A savepoint (``begin_nested``) keeps the rows added before it: released, it inserts them all
(they are then in the outer transaction, as a flushed object would be); rolled back, it drops
only the rows added inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.dml import Insert

from core import direct

Row = Mapping[str, Any]
_WAITING = "jifen.pending"  # {PendingRows: rows} of the session's transaction
_MARKS = "jifen.pending_marks"  # per open savepoint: how many rows of each kind it began with


class PendingRows:
    """The rows of one ``INSERT`` (built once) waiting for their unit of work's commit."""

    def __init__(self, statement: Insert) -> None:  # noqa: D107
        self.statement = statement

    def add(self, session: AsyncSession, row: Row) -> None:
        waiting: dict[PendingRows, list[Row]] | None = session.info.get(_WAITING)
        if waiting is None:
            waiting = session.info[_WAITING] = {}
        waiting.setdefault(self, []).append(row)

    def waiting(self, session: AsyncSession | Session) -> Sequence[Row]:
        """The rows not inserted yet, oldest first."""
        return session.info.get(_WAITING, {}).get(self, ())

    async def insert_now(self, session: AsyncSession) -> None:
        """Insert the waiting rows now (before a statement that must see them)."""
        rows = _take(session.info, self)
        if rows:
            await session.run_sync(lambda sync: self._insert(sync, rows))

    def _insert(self, sync_session: Session, rows: Sequence[Row]) -> None:
        direct.execute_many(sync_session.connection(), self.statement, rows)


def _take(info: dict[Any, Any], kind: PendingRows) -> list[Row] | None:
    rows: list[Row] | None = info.get(_WAITING, {}).pop(kind, None)
    if rows:
        for marks in info.get(_MARKS, {}).values():
            marks[kind] = 0  # inserted: an enclosing savepoint's rollback undoes them in SQL
    return rows


# Listeners for every session (a dict lookup per commit when nothing waits) rather than attached
# to each session that adds a row: attaching a listener to an instance cost ~30 µs per event.
@event.listens_for(Session, "before_commit")
def _insert_waiting(sync_session: Session) -> None:
    # runs inside the commit (in SQLAlchemy's greenlet, so a sync execute is fine); also when a
    # savepoint is released
    if sync_session.info.get(_WAITING):
        for kind in list(sync_session.info[_WAITING]):
            rows = _take(sync_session.info, kind)
            if rows:
                kind._insert(sync_session, rows)


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, tx: SessionTransaction) -> None:
    if tx.nested:
        marks = {kind: len(rows) for kind, rows in session.info.get(_WAITING, {}).items()}
        session.info.setdefault(_MARKS, {})[tx] = marks


@event.listens_for(Session, "after_transaction_end")
def _drop(session: Session, tx: SessionTransaction) -> None:
    if tx.parent is None:  # a rolled-back transaction's rows are not inserted by the next one
        session.info.pop(_WAITING, None)
        session.info.pop(_MARKS, None)
    elif tx.nested:  # released: inserted already (nothing waits); rolled back: its own go
        marks = session.info.get(_MARKS, {}).pop(tx, None)
        if marks is not None:
            for kind, rows in session.info.get(_WAITING, {}).items():
                del rows[marks.get(kind, 0):]
