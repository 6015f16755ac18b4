"""An event's inbox row is its idempotency record: marked done in the transaction of its effects
and answer, so a second processing of the same row — another replica that took it after the
lease ran out while the first was stuck — changes nothing and sends nothing. Through the real
dispatcher and router; on PostgreSQL the two processings run at once on two replicas."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers import build_router
from bot.inbox.codec import encode
from bot.runtime.dispatcher import Dispatcher
from bot.runtime.events import Event, event_key, playground_event
from cards.model import Card
from config.settings import Settings
from core import inbox
from core.db import Database
from core.models import Award, InboxEvent
from core.policy import Policy
from tests.core.test_awards import org


class Replica:
    """A process's dispatcher; ``sent`` records the replies it queued."""

    def __init__(self, db: Database, policy: Policy, now: datetime) -> None:
        self.sent: list[str] = []
        settings = Settings(database_url="sqlite+aiosqlite://", _env_file=None)  # type: ignore[call-arg]
        self.dispatcher = Dispatcher(db=db, policy=policy, settings=settings, router=build_router(),
                                     sink=self._sink, clock=lambda: now)

    async def _sink(self, s: AsyncSession, event: Event, cards: list[Card], update: Card | None) -> None:
        self.sent.append(event_key(event))


async def _row(db: Database, event: Event, now: datetime) -> int:
    row = await inbox.accept(db, event_key(event), encode(event), now=now, lease_until=now)
    assert row is not None
    return row


async def test_a_second_processing_of_a_row_changes_and_sends_nothing(
        db: Database, db_url: str, policy: Policy, now: datetime) -> None:
    await org(db)
    other_db = db if db.is_sqlite else Database(db_url)  # SQLite: one process (README, Scale-out)
    try:
        one, two = Replica(db, policy, now), Replica(other_db, policy, now)
        give = playground_event("E1", "赞 @E2 1 谢谢帮忙", message_id="twice-give")
        read = playground_event("E1", "积分", message_id="twice-read")
        for event in (give, read):
            row = await _row(db, event, now)
            answers = await asyncio.gather(one.dispatcher.handle(event, row),
                                           two.dispatcher.handle(event, row))
            assert sorted(len(a) > 0 for a in answers) == [False, True] or event is read
            assert one.sent + two.sent == [event_key(event)]  # answered and sent once
            one.sent.clear()
            two.sent.clear()
            again = await two.dispatcher.handle(event, row)  # and once more, later
            assert two.sent == [] and (again == [] or event is read)
        async with db.uow() as s:
            assert await s.scalar(select(func.count()).select_from(Award)) == 1
            states = (await s.scalars(select(InboxEvent.state))).all()
        assert states == ["done", "done"]
    finally:
        if other_db is not db:
            await other_db.dispose()
