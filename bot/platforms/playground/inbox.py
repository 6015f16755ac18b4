"""Cards delivered to playground users, newest last (process memory: it is a local demo)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cards.model import Card
from cards.serialize import card_to_dict


class PlaygroundInbox:
    def __init__(self) -> None:
        self.cards: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def put(self, employee_id: str, card: Card) -> None:
        self.cards[employee_id].append(card_to_dict(card))

    def take(self, employee_id: str) -> list[dict[str, Any]]:
        return self.cards.pop(employee_id, [])
