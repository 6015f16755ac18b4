"""Who an outbox row goes to, as a type: built and read here only, stored as a short address.

Addresses (the ``outbox.recipient`` column): ``employee:<id>`` (a push, sent to whichever
platform the employee is on), ``target:<name>`` (a broadcast target of the policy file),
``<platform>:<user>`` (an answer to a chat message or click on that platform) and
``<platform>-update:<user>`` (a delivered card updated in place).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

RecipientKind = Literal["employee", "target", "chat", "card"]
PLATFORMS = ("wecom", "dingtalk", "playground")
_UPDATE = "-update"


class Lane(IntEnum):
    """Answers go before pushes: a person waiting for a reply never queues behind a bulk grant."""

    REPLY = 0  # a reply to a person's own message or click, an in-place card update
    PUSH = 1  # pushes, reminders, broadcasts


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: RecipientKind
    id: str
    platform: str | None = None

    @classmethod
    def employee(cls, employee_id: str) -> Recipient:
        return cls("employee", employee_id)

    @classmethod
    def target(cls, name: str) -> Recipient:
        return cls("target", name)

    @classmethod
    def chat(cls, platform: str, user_id: str) -> Recipient:
        return cls("chat", user_id, platform)

    @classmethod
    def card(cls, platform: str, user_id: str) -> Recipient:
        return cls("card", user_id, platform)

    @property
    def lane(self) -> Lane:
        return Lane.PUSH if self.kind in ("employee", "target") else Lane.REPLY

    @property
    def address(self) -> str:
        if self.kind in ("employee", "target"):
            return f"{self.kind}:{self.id}"
        suffix = _UPDATE if self.kind == "card" else ""
        return f"{self.platform}{suffix}:{self.id}"

    @classmethod
    def parse(cls, address: str) -> Recipient:
        head, sep, who = address.partition(":")
        if not sep or not who:
            raise ValueError(f"not an outbox address: {address!r}")
        if head in ("employee", "target"):
            return cls(head, who)  # type: ignore[arg-type]
        platform = head.removesuffix(_UPDATE)
        if platform not in PLATFORMS:
            raise ValueError(f"not an outbox address: {address!r}")
        return cls("card" if head.endswith(_UPDATE) else "chat", who, platform)
