"""An event as stored in the inbox (JSON) and back."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.runtime.events import CardAction, Event, IncomingText, Source


def encode(event: Event) -> dict[str, object]:
    kind = "text" if isinstance(event, IncomingText) else "action"
    return {"kind": kind, **asdict(event)}


def decode(payload: dict[str, Any]) -> Event:
    data = dict(payload)
    kind = data.pop("kind")
    source = Source(**data.pop("source"))
    if kind == "text":
        return IncomingText(source=source, message_id=data["message_id"], text=data["text"],
                            mentions=tuple(data.get("mentions") or ()))
    return CardAction(source=source, **data)
