"""The one way in: every transport calls ``Dispatcher.feed(event)``.

Order of the middlewares, outermost first, and why:
1. errors — a refusal (CoreError) becomes a one-line reply; anything else is logged and the user
   gets a short apology, never a traceback.
2. dedup — the platform message id is an idempotency key stored with the reply in the same
   transaction as the effects, so a redelivered message or double click changes state once and
   gets the same answer.
3. identity — the platform's authenticated user id maps to an employee; strangers are told they
   are not enrolled.
4. unit of work — the handler's changes, the dedupe record and the outgoing replies (outbox rows)
   commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import error_text, lang_of, t
from bot.runtime.commands import Command, normalize, parse
from bot.runtime.context import Ctx
from bot.runtime.events import CardAction, Event, IncomingText, Source
from bot.runtime.router import Router
from cards import actions
from cards.builders import message
from cards.model import Card
from cards.serialize import card_from_dict, card_to_dict
from config.settings import Settings
from core import idempotency
from core.db import Database
from core.directory import service as directory
from core.errors import CoreError
from core.models import Employee, utcnow
from core.policy import Policy

log = logging.getLogger("jifen.dispatch")

# Writes the replies (and a card update) for an event inside its unit of work, e.g. as outbox
# rows for WeCom; the playground needs none (it returns the cards over HTTP).
ReplySink = Callable[[AsyncSession, Event, list[Card], Card | None], Awaitable[None]]


def event_key(event: Event) -> str:
    ident = event.message_id if isinstance(event, IncomingText) else event.event_id
    return f"evt:{event.source.platform}:{ident}"


def action_command(action: str, lang: str) -> Command:
    """A button click becomes the same command its text fallback would."""
    try:
        a = actions.unpack(action)
    except ValueError:
        return Command("unknown", lang)
    table: dict[type[actions.Action], tuple[str, str]] = {
        actions.ApproveAction: ("approve", "approval_id"), actions.RejectAction: ("reject", "approval_id"),
        actions.ConfirmRedeem: ("confirm", "code"), actions.CancelRedeem: ("cancel_confirmation", "code"),
        actions.FulfilOrder: ("fulfill", "order_no"),
    }
    if isinstance(a, actions.OpenCatalog):
        return Command("catalog", lang, args={"category": a.category})
    if isinstance(a, actions.JoinAward):
        return Command("join", lang, args={"award_id": a.award_id, "amount": None})
    intent, attr = table[type(a)]
    return Command(intent, lang, args={"target": getattr(a, attr), "note": ""})


async def identify(session: AsyncSession, source: Source) -> Employee | None:
    if source.platform == "playground":
        return await session.get(Employee, source.user_id)
    return await directory.by_platform_id(session, platform=source.platform, user_id=source.user_id)


class Dispatcher:
    def __init__(self, *, db: Database, policy: Policy, settings: Settings, router: Router,
                 sink: ReplySink | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.policy, self.settings, self.router = db, policy, settings, router
        self.sink, self.clock = sink, clock

    async def feed(self, event: Event) -> list[Card]:
        lang = parse(event.text).lang if isinstance(event, IncomingText) else "zh"
        try:
            return await self.db.run(lambda s: self._process(s, event))
        except CoreError as exc:
            return await self._finish(event, [message(error_text(exc, lang), locale=lang)])  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - the user gets an apology, the log gets the traceback
            log.exception("event %s failed", event_key(event))
            return [message(t("internal_error", lang), locale=lang)]  # type: ignore[arg-type]

    async def _finish(self, event: Event, cards: list[Card]) -> list[Card]:
        """Record a refusal like any answer, so a redelivery repeats it without re-sending."""
        async def _store(s: AsyncSession) -> list[Card]:
            stored = await idempotency.recall(s, event_key(event))
            if stored is not None:
                return [card_from_dict(c) for c in stored["cards"]]
            await self._commit_replies(s, event, cards, None)
            return cards

        return await self.db.run(_store)

    async def _commit_replies(self, s: AsyncSession, event: Event, cards: list[Card],
                              update: Card | None) -> None:
        await idempotency.remember(s, event_key(event), {"cards": [card_to_dict(c) for c in cards]},
                                   now=self.clock())
        if self.sink is not None:
            await self.sink(s, event, cards, update)

    async def _process(self, s: AsyncSession, event: Event) -> list[Card]:
        stored = await idempotency.recall(s, event_key(event))
        if stored is not None:
            return [card_from_dict(c) for c in stored["cards"]]
        employee = await identify(s, event.source)
        if employee is None or not employee.active:
            cards = [message(t("not_enrolled", "zh"), [t("not_enrolled", "en")])]
            await self._commit_replies(s, event, cards, None)
            return cards
        ctx = await self._context(s, event, employee)
        await self._route(ctx)
        await self._commit_replies(s, event, ctx.replies, ctx.card_update)
        return ctx.replies

    async def _context(self, s: AsyncSession, event: Event, employee: Employee) -> Ctx:
        # the reply follows the language the user typed; a click, a bare "?" or "+1" has none
        lang = lang_of(employee.locale)
        if isinstance(event, IncomingText) and normalize(event.text) not in ("?", "") \
                and not normalize(event.text).startswith("+1"):
            lang = parse(event.text).lang
        return Ctx(session=s, event=event, employee=employee, roles=await directory.roles_of(s, employee),
                   lang=lang, policy=self.policy, settings=self.settings, now=self.clock())

    async def _route(self, ctx: Ctx) -> None:
        ev = ctx.event
        cmd = parse(ev.text) if isinstance(ev, IncomingText) else action_command(ev.action, ctx.lang)
        handler = self.router.get(cmd.intent)
        if handler is None:
            ctx.say_key("unknown_command")
            return
        await handler(ctx, cmd)


def playground_event(employee_id: str, text: str | None, *, action: str | None = None,
                     message_id: str) -> Event:
    source = Source(platform="playground", user_id=employee_id)
    if action is not None:
        return CardAction(source=source, event_id=message_id, action=action)
    return IncomingText(source=source, message_id=message_id, text=text or "")
