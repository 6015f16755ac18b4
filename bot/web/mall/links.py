"""打开商城 on the cards that lead to the mall (balance, expiry reminder, promotion, catalog):
a one-time link ``<public>/m/login?token=…`` for the employee the card goes to (10 minutes,
usable once, like the console's), carried as the card's link so every renderer shows it and the
text fallback prints it. A card for a group (a broadcast) gets ``<public>/m`` instead: a one-time
link there would sign in whoever clicks first; inside WeCom / DingTalk /m signs people in itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.auth.links import login_link
from bot.web.base import public_url
from cards.model import Card
from cards.texts import t
from config.settings import Settings
from core.db import Database
from core.directory.service import by_platform_id
from core.models import utcnow

MALL_CARDS = frozenset({"balance", "catalog", "expiry_reminder", "promotion"})
Linker = Callable[[str | None, Card], Awaitable[Card]]
ReplyLinker = Callable[[str, str, Card], Awaitable[Card]]


def _labelled(card: Card, url: str) -> Card:
    return replace(card, link=url, link_text=t(card.locale, "open_mall"))


async def with_mall_link(session: AsyncSession, settings: Settings, card: Card, *,
                         employee_id: str, now: datetime) -> Card:
    url = await login_link(session, settings, employee_id=employee_id, purpose="mall", now=now)
    return _labelled(card, url)


def group_mall_link(settings: Settings, card: Card) -> Card:
    return _labelled(card, f"{public_url(settings)}/m")


def push_linker(db: Database, settings: Settings) -> Linker:
    """For the outbox: adds the mall link to a push of a mall card as it is sent (so the ten
    minutes start when the card arrives, not when it was queued)."""

    async def add(employee_id: str | None, card: Card) -> Card:
        if card.kind not in MALL_CARDS or card.link:
            return card
        if employee_id is None:
            return group_mall_link(settings, card)
        return await db.run(lambda s: with_mall_link(s, settings, card, employee_id=employee_id,
                                                     now=utcnow()))

    return add


def reply_linker(db: Database, settings: Settings) -> ReplyLinker:
    """For the outbox: the same for an answer to a chat message, addressed by platform user id
    (minted when sent, so read-only commands like 积分 write nothing while they are answered)."""

    async def add(platform: str, user_id: str, card: Card) -> Card:
        if card.kind not in MALL_CARDS or card.link:
            return card

        async def mint(s: AsyncSession) -> Card:
            emp = await by_platform_id(s, platform=platform, user_id=user_id)
            if emp is None:
                return card
            return await with_mall_link(s, settings, card, employee_id=emp.employee_id,
                                        now=utcnow())

        return await db.run(mint)

    return add


def link_maker(db: Database, settings: Settings) -> Callable[[str], Awaitable[str]]:
    """A fresh mall link for an employee id (the playground's 商城 button acts as anyone: it is
    the local demo without sign-in, see bot.platforms.playground.web)."""

    async def make(employee_id: str) -> str:
        return await db.run(lambda s: login_link(s, settings, employee_id=employee_id,
                                                 purpose="mall", now=utcnow()))

    return make
