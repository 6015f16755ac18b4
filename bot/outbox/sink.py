"""The dispatcher's reply sink: replies leave as outbox rows in the answers lane, written in the
event's own transaction; the worker is woken once that transaction commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from bot.runtime.dispatcher import event_key
from bot.runtime.events import CardAction, Event
from cards.model import Card
from cards.serialize import card_to_dict
from core.models import utcnow
from core.outbox import Recipient, card_refs, queue

_WAKE = "jifen.outbox_wake"


# One listener for all sessions: a listener added per transaction (``once=True``) cost about as
# much as a statement's Python work on every event.
@sa_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    wake = session.info.pop(_WAKE, None)
    if wake is not None:
        wake()


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_wake(session: Session, tx: SessionTransaction) -> None:
    if tx.parent is None:  # rolled back: nothing was queued, nobody to wake
        session.info.pop(_WAKE, None)


class OutboxSink:
    """Call it as the dispatcher's ``sink``; set ``on_commit`` to wake the outbox worker."""

    def __init__(self, on_commit: Callable[[], None] | None = None) -> None:
        self.on_commit = on_commit

    async def __call__(self, s: AsyncSession, event: Event, cards: list[Card],
                       update: Card | None) -> None:
        await outbox_sink(s, event, cards, update)
        # an event may also have queued pushes (an award, …); one wake per transaction, however
        # many answers it commits
        if self.on_commit is not None:
            s.info[_WAKE] = self.on_commit


async def outbox_sink(s: AsyncSession, event: Event, cards: list[Card], update: Card | None) -> bool:
    """Queue replies (and an in-place card update); the playground needs none. True if queued."""
    src = event.source
    if src.platform == "playground":
        return False
    base = event_key(event)
    now = utcnow()
    extra: dict[str, Any] = {}
    if src.platform == "dingtalk":  # where to answer: the sessionWebhook, or the group
        extra = {"reply_hint": dict(src.reply_hint),
                 "conversation_id": src.conversation_id if src.is_group else None}
    to = Recipient.chat(src.platform, src.user_id)
    for i, card in enumerate(cards):
        # fresh: the event's key was claimed in this very transaction, so its derived keys are new
        await queue(s, recipient=to, kind="reply", payload={"card": card_to_dict(card), **extra},
                    now=now, dedupe_key=f"{base}:r{i}", fresh=True)
    queued = bool(cards)
    if update is not None and isinstance(event, CardAction) and event.card_ref:
        queued = await _queue_update(s, event, update, base) or queued
    return queued


async def _queue_update(s: AsyncSession, event: CardAction, update: Card, base: str) -> bool:
    src = event.source
    if src.platform == "wecom" and not event.response_code:
        return False
    assert event.card_ref is not None
    # this copy is updated through the click: the decision must not update it a second time
    await card_refs.supersede(s, platform=src.platform, task_id=event.card_ref)
    await queue(s, recipient=Recipient.card(src.platform, src.user_id), kind="card_update",
                now=utcnow(), dedupe_key=f"{base}:u", fresh=True,
                payload={"card": card_to_dict(update), "task_id": event.card_ref,
                         "response_code": event.response_code, "replace_text": update.title})
    return True
