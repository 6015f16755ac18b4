"""Intent → handler, composed from one router per feature in a visible order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.runtime.commands import Command
from bot.runtime.context import Ctx

Handler = Callable[[Ctx, Command], Awaitable[None]]


class Router:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def on(self, *intents: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            for intent in intents:
                if intent in self.handlers:
                    raise ValueError(f"intent {intent} registered twice")
                self.handlers[intent] = fn
            return fn

        return deco

    def include(self, other: Router) -> None:
        for intent, fn in other.handlers.items():
            if intent in self.handlers:
                raise ValueError(f"intent {intent} registered twice")
            self.handlers[intent] = fn

    def get(self, intent: str) -> Handler | None:
        return self.handlers.get(intent)
