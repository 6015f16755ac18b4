"""What a handler gets: one typed context per event, inside the event's unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime.events import Event
from cards.builders import message
from cards.model import Card
from cards.texts import Locale, t
from config.settings import Settings
from core.directory.service import Sender
from core.policy import Policy


@dataclass
class Ctx:
    session: AsyncSession
    event: Event
    sender: Sender
    lang: Locale
    policy: Policy
    settings: Settings
    now: datetime
    replies: list[Card] = field(default_factory=list)
    card_update: Card | None = None  # replaces the clicked card in place (after a decision)

    @property
    def me(self) -> str:
        return self.sender.employee_id

    @property
    def locale(self) -> Locale:
        return self.lang

    def say(self, title: str, *lines: str) -> None:
        self.replies.append(message(title, list(lines), self.locale))

    def say_key(self, key: str, **params: object) -> None:
        self.say(t(self.lang, key, **params))

    def card(self, card: Card) -> None:
        self.replies.append(card)

    def is_hr(self) -> bool:
        return bool({"hr", "admin"} & self.sender.roles)
