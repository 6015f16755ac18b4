"""Cards as JSON-ready dicts, so a reply can be stored (dedupe, outbox) and rendered later."""

from __future__ import annotations

from typing import Any

from cards.model import Button, Card


def card_to_dict(card: Card) -> dict[str, Any]:
    return {
        "kind": card.kind, "title": card.title, "lines": list(card.lines),
        "fields": [list(f) for f in card.fields],
        "buttons": [{"text": b.text, "action": b.action, "fallback": b.fallback, "style": b.style}
                    for b in card.buttons],
        "footer": card.footer, "locale": card.locale, "link": card.link,
        "link_text": card.link_text,
    }


def card_from_dict(data: dict[str, Any]) -> Card:
    return Card(
        kind=data["kind"], title=data["title"], lines=list(data.get("lines", [])),
        fields=[(str(k), str(v)) for k, v in data.get("fields", [])],
        buttons=[Button(**b) for b in data.get("buttons", [])],
        footer=data.get("footer"), locale=data.get("locale", "zh"), link=data.get("link"),
        link_text=data.get("link_text"),
    )
