"""Reply sinks: how a dispatcher's replies leave, per platform, inside the event's transaction."""

from __future__ import annotations

from typing import Any

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
    extra: dict[str, Any] = {}
    if src.platform == "dingtalk":  # where to answer: the sessionWebhook, or the group
        extra = {"reply_hint": dict(src.reply_hint),
                 "conversation_id": src.conversation_id if src.is_group else None}
    for i, card in enumerate(cards):
        await queue(s, recipient=f"{src.platform}:{src.user_id}", kind="reply",
                    payload={"card": card_to_dict(card), **extra}, now=now,
                    dedupe_key=f"{base}:r{i}")
    if update is not None and isinstance(event, CardAction) and event.card_ref:
        await _queue_update(s, event, update, base)


async def _queue_update(s: AsyncSession, event: CardAction, update: Card, base: str) -> None:
    src = event.source
    if src.platform == "wecom" and not event.response_code:
        return
    await queue(s, recipient=f"{src.platform}-update:{src.user_id}", kind="card_update",
                now=utcnow(), dedupe_key=f"{base}:u",
                payload={"card": card_to_dict(update), "task_id": event.card_ref,
                         "response_code": event.response_code, "replace_text": update.title})
    # this copy is now up to date: the decision push must not update it a second time
    await s.execute(sql_update(CardRef).where(CardRef.task_id == event.card_ref,
                                              CardRef.platform == src.platform).values(updated=True))
