"""Command type → handler, composed from one router per feature in a visible order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.runtime.commands import Command
from bot.runtime.context import Ctx

Handler = Callable[[Ctx, Any], Awaitable[None]]  # takes the command type it is registered for
H = TypeVar("H", bound=Handler)


class Router:
    def __init__(self) -> None:
        self.handlers: dict[type[Command], Handler] = {}

    def on(self, *kinds: type[Command]) -> Callable[[H], H]:
        def deco(fn: H) -> H:
            for kind in kinds:
                self._add(kind, fn)
            return fn

        return deco

    def _add(self, kind: type[Command], fn: Handler) -> None:
        if kind in self.handlers:
            raise ValueError(f"{kind.__name__} registered twice")
        self.handlers[kind] = fn

    def include(self, other: Router) -> None:
        for kind, fn in other.handlers.items():
            self._add(kind, fn)

    def get(self, command: Command) -> Handler | None:
        return self.handlers.get(type(command))
