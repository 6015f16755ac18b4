"""Recording and reading the audit log.

Services that make HR changes call ``record`` inside the caller's unit of work, so an entry exists
exactly when its change was committed (a rolled-back change leaves no entry). Entries are never
updated or deleted; on PostgreSQL a trigger (migration 0005) refuses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import AuditEntry

MAX_LIST = 500


@dataclass(frozen=True)
class AuditFilter:
    """Every field narrows the list; ``after_id`` is the pagination cursor (ids only grow)."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    after_id: int = 0


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any


def _dump(value: Mapping[str, Any] | list[Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str,
                                                 sort_keys=True)


async def record(
    session: AsyncSession, *, actor: str, action: str, subject: str, now: datetime,
    before: Mapping[str, Any] | list[Any] | None = None,
    after: Mapping[str, Any] | list[Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction. ``before``/``after`` are JSON-able snapshots
    (None: the thing did not exist before / does not exist after)."""
    session.add(AuditEntry(at=now, actor=actor[:64], action=action, subject=subject[:200],
                           before=_dump(before), after=_dump(after)))
    await session.flush()


def _view(row: AuditEntry) -> AuditView:
    return AuditView(row.id, row.at, row.actor, row.action, row.subject,
                     None if row.before is None else json.loads(row.before),
                     None if row.after is None else json.loads(row.after))


async def entries(session: AsyncSession, *, where: AuditFilter, limit: int,
                  newest_first: bool = False) -> list[AuditView]:
    """Entries matching ``where`` in the order they were written (oldest first, or newest first
    for a screen that shows the latest), at most ``limit`` (capped at MAX_LIST)."""
    stmt = select(AuditEntry).where(AuditEntry.id > where.after_id)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.at < where.until)
    for column, value in ((AuditEntry.actor, where.actor), (AuditEntry.action, where.action),
                          (AuditEntry.subject, where.subject)):
        if value:
            stmt = stmt.where(column == value)
    order = AuditEntry.id.desc() if newest_first else AuditEntry.id
    rows = await session.scalars(stmt.order_by(order).limit(min(limit, MAX_LIST)))
    return [_view(row) for row in rows]
