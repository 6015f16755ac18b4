"""The neutral card: what every renderer (WeCom, DingTalk, text, HTML) starts from.

A card is plain data. Builders (``cards.builders``) make them from plain values; renderers turn
them into platform payloads. Every button carries the text command that does the same thing
(``fallback``); renderers print those on the card, so no flow depends on buttons working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from cards.actions import unpack
from cards.texts import LOCALES, Locale, reply_hint, t

ButtonStyle = Literal["primary", "default", "danger"]
BUTTON_STYLES: tuple[ButtonStyle, ...] = ("primary", "default", "danger")
MAX_BUTTONS = 4
CARD_KINDS = (
    "balance",
    "award_received",
    "approval_request",
    "approval_decided",
    "redemption_confirm",
    "order_status",
    "expiry_reminder",
    "promotion",
    "catalog",  # the catalog list in chat: a plain reply that leads to the mall
    "weekly_digest",  # the 公示 card posted to groups (SPEC section 13)
    "message",  # a plain reply (help, lists, refusals): title and lines, maybe buttons
)


@dataclass(frozen=True)
class Button:
    """A clickable action. ``action`` is a packed payload (``cards.actions``); it only names the
    target, the core decides whether the clicking user may do it."""

    text: str
    action: str
    fallback: str
    style: ButtonStyle = "default"

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("button text is empty")
        if not self.fallback.strip():
            raise ValueError(f"button {self.text!r} has no text fallback")
        if self.style not in BUTTON_STYLES:
            raise ValueError(f"unknown button style: {self.style!r}")
        unpack(self.action)  # raises ValueError on a malformed payload


@dataclass(frozen=True)
class Card:
    """Title, free lines, key/value fields, ≤ 4 buttons, an optional footer and link."""

    kind: str
    title: str
    lines: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    footer: str | None = None
    locale: Locale = "zh"
    link: str | None = None
    link_text: str | None = None  # the link's label, e.g. 打开商城 (default 详情)

    def __post_init__(self) -> None:
        if self.kind not in CARD_KINDS:
            raise ValueError(f"unknown card kind: {self.kind!r}")
        if not self.title.strip():
            raise ValueError("card title is empty")
        if len(self.buttons) > MAX_BUTTONS:
            raise ValueError(f"a card has at most {MAX_BUTTONS} buttons, got {len(self.buttons)}")
        if self.locale not in LOCALES:
            raise ValueError(f"unknown locale: {self.locale!r}")
        if len({b.action for b in self.buttons}) != len(self.buttons):
            raise ValueError("two buttons share one action")
        if self.link is not None and not self.link.startswith(("https://", "http://")):
            raise ValueError(f"link must be http(s): {self.link!r}")

    @property
    def link_label(self) -> str:
        return self.link_text or t(self.locale, "link")

    @property
    def fallbacks(self) -> list[str]:
        """The text commands of the buttons, in button order."""
        return [b.fallback for b in self.buttons]

    @property
    def reply_hint(self) -> str | None:
        """The line every renderer prints, e.g. ``或回复：同意 A12 / 拒绝 A12``."""
        return reply_hint(self.locale, self.fallbacks)

    def settled(self) -> Card:
        """The card once its buttons have been used: no buttons, so no reply line, and no footer
        if it had buttons (a footer there is about the buttons, e.g. "add a reason when
        rejecting"). Used for the in-place update after a decision."""
        if not self.buttons:
            return self
        return replace(self, buttons=[], footer=None)
