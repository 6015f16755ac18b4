"""Delivered cards with buttons, so every copy can be updated in place once it is decided.

SPEC section 4: after a decision, the card that carried the buttons is updated for everyone who
received it — the clicker's copy through the click's own ResponseCode, the others (and all copies
when someone decided by typing 同意 A12) through the handle the platform returned at send time
(WeCom ``response_code``, DingTalk ``outTrackId``). The updates are queued in the decision's own
transaction, so delivery only sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Employee
from core.models.outbox import CardRef, OutboxMessage
from core.outbox.queue import queue
from core.outbox.recipient import Lane, Recipient

CARD_UPDATE = "card_update"


@dataclass(frozen=True, slots=True)
class DeliveredCard:
    """``ref`` names what the card decides (``approval:A12``); ``handle`` updates it later."""

    ref: str
    platform: str
    user_id: str
    task_id: str | None
    handle: str


def approval_ref(approval_id: str) -> str:
    return f"approval:{approval_id.upper()}"


async def remember(session: AsyncSession, cards: list[DeliveredCard], *, now: datetime) -> None:
    if cards:
        await session.execute(insert(CardRef), [
            {"ref": c.ref, "platform": c.platform, "user_id": c.user_id, "task_id": c.task_id,
             "handle": c.handle, "updated": False, "created_at": now} for c in cards])


async def supersede(session: AsyncSession, *, platform: str, task_id: str) -> None:
    """The clicked copy is updated through the click itself (its own ResponseCode): a decision
    must not update it a second time, and an update it already queued is dropped unsent."""
    ids = list(await session.scalars(select(CardRef.id).where(CardRef.task_id == task_id,
                                                              CardRef.platform == platform)))
    if not ids:
        return
    await session.execute(update(CardRef).where(CardRef.id.in_(ids)).values(updated=True))
    await session.execute(delete(OutboxMessage).where(
        OutboxMessage.status == "pending",
        OutboxMessage.dedupe_key.in_([f"card-update:{i}" for i in ids])))


async def _locales(session: AsyncSession, refs: list[CardRef]) -> dict[tuple[str, str], str]:
    """(platform, platform user id) → that employee's locale: a card ref keeps only the platform
    id, and each copy is rendered in its reader's language (one statement per decision)."""
    ids = {p: [r.user_id for r in refs if r.platform == p] for p in ("wecom", "dingtalk")}
    if not ids["wecom"] and not ids["dingtalk"]:
        return {}
    rows = await session.execute(select(Employee.wecom_userid, Employee.dingtalk_userid,
                                        Employee.locale).where(or_(
        Employee.wecom_userid.in_(ids["wecom"]), Employee.dingtalk_userid.in_(ids["dingtalk"]))))
    found: dict[tuple[str, str], str] = {}
    for wecom, dingtalk, locale in rows:
        found.update({("wecom", wecom): locale} if wecom else {})
        found.update({("dingtalk", dingtalk): locale} if dingtalk else {})
    return found


async def queue_updates(session: AsyncSession, *, ref: str, render: str, data: dict[str, Any],
                        now: datetime) -> int:
    """Queue an in-place update of every delivered copy of ``ref``'s card (rendered by the bot
    as notification ``render`` from ``data``); returns how many."""
    refs = list(await session.scalars(
        select(CardRef).where(CardRef.ref == ref, CardRef.updated.is_(False)).with_for_update()))
    locales = await _locales(session, refs)
    for r in refs:
        await queue(session, recipient=Recipient.card(r.platform, r.user_id), kind=CARD_UPDATE,
                    now=now, dedupe_key=f"card-update:{r.id}", lane=Lane.REPLY,
                    payload={"render": render, "data": data, "task_id": r.task_id,
                             "response_code": r.handle,
                             "locale": locales.get((r.platform, r.user_id), "zh")})
    if refs:
        await session.execute(update(CardRef).where(CardRef.id.in_([r.id for r in refs]))
                              .values(updated=True))
    return len(refs)
