"""Reply sinks: how a dispatcher's replies leave, per platform, inside the event's transaction."""

from __future__ import annotations

from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime.dispatcher import event_key
from bot.runtime.events import CardAction, Event
from cards.model import Card
from cards.serialize import card_to_dict
from core.models import CardRef, utcnow
from core.notify import queue


async def outbox_sink(s: AsyncSession, event: Event, cards: list[Card], update: Card | None) -> None:
    """Queue replies (and an in-place card update) as outbox rows; the playground needs none."""
    src = event.source
    if src.platform == "playground":
        return
    base = event_key(event)
    now = utcnow()
    for i, card in enumerate(cards):
        await queue(s, recipient=f"{src.platform}:{src.user_id}", kind="reply",
                    payload={"card": card_to_dict(card)}, now=now, dedupe_key=f"{base}:r{i}")
    if (update is not None and isinstance(event, CardAction) and src.platform == "wecom"
            and event.response_code and event.card_ref):
        await queue(s, recipient=f"wecom-update:{src.user_id}", kind="card_update", now=now,
                    payload={"card": card_to_dict(update), "task_id": event.card_ref,
                             "response_code": event.response_code, "replace_text": update.title},
                    dedupe_key=f"{base}:u")
        # this copy is now up to date: the decision push must not update it a second time
        await s.execute(sql_update(CardRef).where(CardRef.task_id == event.card_ref,
                                              CardRef.user_id == src.user_id).values(updated=True))
