"""Cards delivered to playground users, newest last (process memory: it is a local demo)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cards.model import Card
from cards.serialize import card_to_dict

GROUP_KEPT = 50  # group messages a late-comer still sees


class PlaygroundInbox:
    def __init__(self) -> None:
        self.cards: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.group: list[tuple[int, dict[str, Any]]] = []  # (number, card): the demo group chat
        self.group_seen: dict[str, int] = {}  # employee → the last group number they took

    def put(self, employee_id: str, card: Card) -> None:
        self.cards[employee_id].append(card_to_dict(card))

    def put_group(self, card: Card) -> None:
        """A broadcast to the playground's group: everyone sees it on their next poll."""
        number = self.group[-1][0] + 1 if self.group else 1
        self.group = [*self.group[-(GROUP_KEPT - 1):], (number, card_to_dict(card))]

    def take(self, employee_id: str) -> list[dict[str, Any]]:
        seen = self.group_seen.get(employee_id, 0)
        fresh = [card for number, card in self.group if number > seen]
        if self.group:
            self.group_seen[employee_id] = self.group[-1][0]
        return [*fresh, *self.cards.pop(employee_id, [])]
