"""Remember delivered approval cards so every copy can be updated once the request is decided.

SPEC section 4: after a decision, the card that carried the buttons is updated for everyone who
received it — the clicker's copy through the click's own ResponseCode, the others (and all copies
when someone decided by typing 同意 A12) through the response_code WeCom returned at send time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from cards import actions
from cards.model import Card
from cards.serialize import card_to_dict
from core.db import Database
from core.models import CardRef, utcnow
from core.notify import queue


def approval_ref(card: Card) -> str | None:
    """``approval:A12`` for a card whose buttons decide approval A12, else None."""
    for button in card.buttons:
        action = actions.unpack(button.action)
        if isinstance(action, actions.ApproveAction | actions.RejectAction):
            return f"approval:{action.approval_id.upper()}"
    return None


async def remember(db: Database, card: Card, *, platform: str, user_id: str, task_id: str | None,
                   response: dict[str, Any]) -> None:
    ref = approval_ref(card)
    handle = response.get("response_code")
    if ref is None or not handle:
        return
    async with db.uow() as s:
        s.add(CardRef(ref=ref, platform=platform, user_id=user_id, task_id=task_id, handle=handle,
                      created_at=utcnow()))


async def queue_updates(db: Database, approval_id: str, card: Card) -> int:
    """Queue an in-place update of every delivered copy of the approval's card; returns how many."""
    ref = f"approval:{approval_id.upper()}"
    async with db.uow() as s:
        refs = list(await s.scalars(
            select(CardRef).where(CardRef.ref == ref, CardRef.updated.is_(False)).with_for_update()))
        for r in refs:
            await queue(s, recipient=f"{r.platform}-update:{r.user_id}", kind="card_update",
                        now=utcnow(), dedupe_key=f"card-update:{r.id}",
                        payload={"card": card_to_dict(card), "task_id": r.task_id,
                                 "response_code": r.handle, "replace_text": card.title})
        await s.execute(update(CardRef).where(CardRef.id.in_([r.id for r in refs]))
                        .values(updated=True))
    return len(refs)
