"""Helpers shared by handlers: resolving recipients, formatting points and times."""

from __future__ import annotations

from datetime import datetime

from bot.runtime.context import Ctx
from bot.runtime.events import IncomingText, event_key
from core.directory import service as directory
from core.timeutil import tz


async def resolve_all(ctx: Ctx, tokens: list[str]) -> list[str]:
    """Employee ids for the ``<who…>`` tokens plus any platform @mentions, in order, once each.

    Raises UnknownEmployee / AmbiguousName (with candidates) for the first token that fails.
    """
    ids: list[str] = []
    names: set[str] = set()
    mentioned = ctx.event.mentions if isinstance(ctx.event, IncomingText) else ()
    for user_id in mentioned:
        emp = await directory.by_platform_id(ctx.session, platform=ctx.event.source.platform,
                                             user_id=user_id)
        if emp is not None and emp.employee_id not in ids:
            ids.append(emp.employee_id)
            names.add(emp.name)
    for token in tokens:
        if token.startswith("@") and token[1:] in names:
            continue  # DingTalk leaves "@张三" in the text of a real @mention: already resolved
        found = await directory.resolve(ctx.session, token, sender=ctx.me)
        if found not in ids:
            ids.append(found)
    return ids


def key(ctx: Ctx, suffix: str = "") -> str:
    """An idempotency key derived from the event, so a redelivery maps to the same change."""
    return event_key(ctx.event) + (f":{suffix}" if suffix else "")


def local_time(ctx: Ctx, at: datetime) -> str:
    return at.astimezone(tz(ctx.policy)).strftime("%m-%d %H:%M")


def signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)
