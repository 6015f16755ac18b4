"""At-most-once acceptance of a signed request, shared by every replica through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.models import SeenRequest


async def first_use(db: Database, key: str, *, expires_at: datetime) -> bool:
    """True the first time ``key`` is offered, False ever after (until pruned after
    ``expires_at``). One short transaction of its own: the primary key decides between replicas,
    so there is no retry (``Database.run`` would retry the unique violation)."""
    try:
        async with db.uow() as session:
            session.add(SeenRequest(key=key, expires_at=expires_at))
            await session.flush()
    except IntegrityError:
        return False
    return True
