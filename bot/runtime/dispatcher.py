"""The one way in: the platforms' inbox calls ``Dispatcher.handle(event)``; the playground
and ``jifen chat`` call ``Dispatcher.feed(event)``.

Order of the middlewares, outermost first, and why:
1. errors — a refusal (CoreError) becomes a one-line reply; anything else propagates from
   ``handle`` so the inbox (bot/inbox) retries it and, when it finally gives up, sends a short
   apology (``give_up``); the user never sees a traceback. ``feed`` (playground, ``jifen chat``)
   turns it into the apology at once.
2. dedup — an event from a platform has its inbox row (keyed by the platform's message id), which
   is marked done in the transaction of its effects and answer: a redelivery is not stored
   again, and a second processing of the row (a lease that ran out) finds it done and does
   nothing. An event fed directly (playground, ``jifen chat``) has an idempotency record of its
   key, stored with the reply, so a double click changes state once and gets the same answer.
3. identity — the platform's authenticated user id maps to an employee; strangers are told they
   are not enrolled.
4. unit of work — the handler's changes, the dedupe record and the outgoing replies (outbox rows)
   commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime.commands import (
    Apply,
    Balance,
    Cancel,
    CancelConfirmation,
    Catalog,
    Command,
    Confirm,
    Decide,
    Empty,
    Fulfil,
    Give,
    Help,
    History,
    Join,
    Leaderboard,
    Orders,
    Redeem,
    Unknown,
    Usage,
    normalize,
    parse,
)
from bot.runtime.context import Ctx
from bot.runtime.events import CardAction, Event, IncomingText, Source, event_key
from bot.runtime.router import Router
from cards import actions
from cards.builders import message
from cards.model import Card
from cards.serialize import card_from_dict, card_to_dict
from cards.texts import Locale, error_text, locale_of, t
from config.settings import Settings
from core import idempotency, inbox
from core.db import Database, GroupCommit
from core.directory import service as directory
from core.errors import CoreError
from core.models import utcnow
from core.policy import Policy

log = logging.getLogger("jifen.dispatch")

# Commands whose handlers only read. They run in a read-only unit of work (on SQLite: a reader
# connection, no write lock), and only the answer (dedupe record + reply rows) is written after.
READ_ONLY: tuple[type[Command], ...] = (
    Balance, History, Leaderboard, Help, Empty, Catalog, Orders, Unknown, Usage)
# An employee's own quick writes: a handful of rows each (an award per recipient named, one
# order), so they are processed in the transaction that stores their event, before the
# acknowledgement (``process_arrived``). Work of unbounded size (HR's grants to many, a
# broadcast) and approvers' decisions are stored first and processed after the acknowledgement.
AT_ARRIVAL: tuple[type[Command], ...] = (
    Give, Join, Apply, Redeem, Confirm, Cancel, CancelConfirmation)


def _reads_only(command: Command) -> bool:
    return isinstance(command, READ_ONLY)

# Writes the replies (and a card update) for an event inside its unit of work, e.g. as outbox
# rows for WeCom; the playground needs none (it returns the cards over HTTP).
ReplySink = Callable[[AsyncSession, Event, list[Card], Card | None], Awaitable[None]]


def action_command(action: str, lang: Locale) -> Command:
    """A button click becomes the same typed command its text fallback would."""
    try:
        a = actions.unpack(action)
    except ValueError:
        return Unknown(lang=lang)
    if isinstance(a, actions.OpenCatalog):
        return Catalog(lang=lang, category=a.category)
    if isinstance(a, actions.JoinAward):
        return Join(lang=lang, award_id=a.award_id)
    if isinstance(a, actions.ApproveAction | actions.RejectAction):
        return Decide(lang=lang, approve=isinstance(a, actions.ApproveAction),
                      approval_id=a.approval_id, step=a.step)
    if isinstance(a, actions.ConfirmRedeem):
        return Confirm(lang=lang, code=a.code)
    if isinstance(a, actions.CancelRedeem):
        return CancelConfirmation(lang=lang, code=a.code)
    if isinstance(a, actions.FulfilOrder):
        return Fulfil(lang=lang, order_no=a.order_no)
    return Unknown(lang=lang)


async def identify(session: AsyncSession, source: Source) -> directory.Sender | None:
    return await directory.sender(session, platform=source.platform, user_id=source.user_id)


def _refusal(lang: Locale, exc: CoreError) -> list[Card]:
    """The answer to a refused command: its one-line reason."""
    return [message(error_text(lang, exc), locale=lang)]


def _lang(event: Event) -> Locale:
    return parse(event.text).lang if isinstance(event, IncomingText) else "zh"


@dataclass(frozen=True)
class _Reply:
    """An answer to record (``_finish``) and the inbox row to mark done with it."""
    event: Event
    cards: list[Card]
    inbox_row: int | None


@dataclass(frozen=True)
class Early:
    """What the dispatcher makes of an event before the inbox stores it: ``cards``, the answer
    of a read-only command (stored with the event, as done, in one transaction), or else
    ``typed``, the command its processing starts from (parsed once); ``at_arrival``: a quick
    write, processed in the transaction that stores it (``process_arrived``)."""
    cards: list[Card] | None = None
    typed: Command | None = None
    at_arrival: bool = False


class Refused(Exception):  # noqa: N818 - a refusal, not a failure
    """``process_arrived`` refused the command (a CoreError): its transaction is rolled back and
    the event is stored with this answer instead."""

    def __init__(self, cards: list[Card]) -> None:
        super().__init__("refused")
        self.cards = cards


@dataclass
class _Answer:
    cards: list[Card]
    update: Card | None = None
    stored: bool = False  # an earlier delivery's answer, already committed


class Dispatcher:
    def __init__(self, *, db: Database, policy: Policy, settings: Settings, router: Router,
                 sink: ReplySink | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.policy, self.settings, self.router = db, policy, settings, router
        self.sink, self.clock = sink, clock
        self._answers: GroupCommit[_Reply, list[Card]] = GroupCommit(db, self._store_answers)

    async def feed(self, event: Event) -> list[Card]:
        """For the playground and ``jifen chat``, which show the answer at once: an
        infrastructure error becomes an apology card. Platforms go through the inbox, which
        calls :meth:`handle` and retries instead."""
        try:
            return await self.handle(event)
        except Exception:  # noqa: BLE001 - the user gets an apology, the log gets the traceback
            log.exception("event %s failed", event_key(event))
            return [message(t(_lang(event), "internal_error"), locale=_lang(event))]

    async def early(self, event: Event) -> Early:
        """A read-only command's answer before its event is stored; for any other event its
        parsed command. A refusal is an answer; anything else propagates (the inbox then stores
        the event and processes it as any other)."""
        typed = parse(event.text) if isinstance(event, IncomingText) else None
        lang: Locale = typed.lang if typed is not None else "zh"
        command = typed if not isinstance(event, CardAction) else action_command(event.action, lang)
        if command is None or not _reads_only(command):
            return Early(typed=typed, at_arrival=isinstance(command, AT_ARRIVAL))
        try:
            answer = await self.db.read(lambda s: self._answer(s, event, typed, recall=False))
        except CoreError as exc:
            return Early(cards=_refusal(lang, exc))
        return Early(cards=answer.cards)

    async def process_arrived(self, s: AsyncSession, event: Event, typed: Command | None) -> None:
        """Process an event in the transaction that stores it, its inbox row inserted ``done``
        just before (so there is no row to mark and no record to look up): the effects and the
        replies commit with the row. A refusal raises ``Refused`` with its answer."""
        try:
            answer = await self._answer(s, event, typed, recall=False)
        except CoreError as exc:
            lang: Locale = typed.lang if typed is not None else "zh"
            raise Refused(_refusal(lang, exc)) from None
        await self._commit_replies(s, event, answer.cards, answer.update, remember=False)

    async def record(self, s: AsyncSession, event: Event, cards: list[Card]) -> None:
        """Queue the replies of an answer computed before its event was stored (``early``), in
        the transaction that stores the event."""
        if self.sink is not None:
            await self.sink(s, event, cards, None)

    async def handle(self, event: Event, inbox_row: int | None = None,
                     typed: Command | None = None) -> list[Card]:
        """Process one event. A refusal (CoreError) is answered and recorded; anything else (a
        database outage, a bug) propagates, so the caller retries rather than dropping it.
        ``inbox_row``: the event's inbox row, marked ``done`` in the transaction that commits
        the answer (no transaction of its own; the two can never disagree). ``typed``: the
        message's command if ``early`` parsed it already."""
        # a message is parsed once; a click becomes its command once the language is known
        if typed is None and isinstance(event, IncomingText):
            typed = parse(event.text)
        lang: Locale = typed.lang if typed is not None else "zh"
        try:
            command = typed if not isinstance(event, CardAction) else action_command(event.action, lang)
            if command is not None and _reads_only(command):
                # no dedupe lookup here: _finish looks once, in the write that records the answer
                answer = await self.db.read(lambda s: self._answer(s, event, typed, recall=False))
                return await self._finish(event, answer.cards, inbox_row)
            return await self.db.run(lambda s: self._process(s, event, typed, inbox_row))
        except CoreError as exc:
            return await self._finish(event, _refusal(lang, exc), inbox_row)

    async def give_up(self, event: Event) -> list[Card]:
        """The event could not be processed after every retry: answer it with an apology (sent
        like any reply), recorded under its key so a late redelivery does not run it again."""
        lang = _lang(event)
        return await self._finish(event, [message(t(lang, "internal_error"), locale=lang)])

    async def _finish(self, event: Event, cards: list[Card], inbox_row: int | None = None) -> list[Card]:
        """Record an answer computed outside the write (a read-only command's, a refusal), so a
        redelivery repeats it without re-sending. Group-committed: answers that arrive while one
        batch is committing are written together in the next (see ``_store_answers``)."""
        return await self._answers.submit(_Reply(event, cards, inbox_row))

    async def _store_answers(self, s: AsyncSession, replies: list[_Reply]) -> list[list[Card]]:
        """One transaction for many answers: the inbox rows marked done in one ``UPDATE`` (a row
        no longer pending was answered by another processing: nothing is sent again), the keys
        of events without a row claimed in one ``INSERT … ON CONFLICT DO NOTHING`` (a key taken
        before, or by a twin earlier in this batch, gets the stored answer and sends nothing),
        the reply rows inserted in one flush."""
        marked = await inbox.mark_done(s, [r.inbox_row for r in replies if r.inbox_row is not None])
        results: dict[str, dict[str, Any]] = {}
        for r in replies:
            if r.inbox_row is None:
                results.setdefault(event_key(r.event), {"cards": [card_to_dict(c) for c in r.cards]})
        claimed = await idempotency.claim_many(s, results, now=self.clock())
        stored = await idempotency.recall_many(s, [k for k in results if k not in claimed])
        answers: list[list[Card]] = []
        for r in replies:
            key = event_key(r.event)
            if r.inbox_row in marked or key in claimed:
                claimed.discard(key)  # a twin later in this batch gets this answer, unsent
                if key in results:
                    stored[key] = results[key]
                if self.sink is not None:
                    await self.sink(s, r.event, r.cards, None)
                answers.append(r.cards)
            else:
                found = stored.get(key)
                answers.append(r.cards if found is None else [card_from_dict(c) for c in found["cards"]])
        return answers

    async def _commit_replies(self, s: AsyncSession, event: Event, cards: list[Card],
                              update: Card | None, *, remember: bool) -> None:
        if remember:
            await idempotency.remember(s, event_key(event), {"cards": [card_to_dict(c) for c in cards]},
                                       now=self.clock())
        if self.sink is not None:
            await self.sink(s, event, cards, update)

    async def _process(self, s: AsyncSession, event: Event, typed: Command | None,
                       inbox_row: int | None = None) -> list[Card]:
        # the inbox row first: on PostgreSQL its lock makes a second processing of the same
        # row (a lease that ran out) wait for this one, then find the row done and do nothing
        if inbox_row is not None and not await inbox.mark_done(s, [inbox_row]):
            return []
        answer = await self._answer(s, event, typed, recall=inbox_row is None)
        if not answer.stored:
            await self._commit_replies(s, event, answer.cards, answer.update,
                                       remember=inbox_row is None)
        return answer.cards

    async def _answer(self, s: AsyncSession, event: Event, typed: Command | None, *,
                      recall: bool = True) -> _Answer:
        stored = await idempotency.recall(s, event_key(event)) if recall else None
        if stored is not None:
            return _Answer([card_from_dict(c) for c in stored["cards"]], stored=True)
        sender = await identify(s, event.source)
        if sender is None or not sender.active:
            return _Answer([message(t("zh", "not_enrolled"), [t("en", "not_enrolled")])])
        ctx = self._context(s, event, sender, typed)
        await self._route(ctx, typed)
        return _Answer(ctx.replies, ctx.card_update)

    def _context(self, s: AsyncSession, event: Event, sender: directory.Sender,
                 typed: Command | None) -> Ctx:
        # the reply follows the language the user typed; a click, a bare "?" or "+1" has none
        lang = locale_of(sender.locale)
        text = normalize(event.text) if isinstance(event, IncomingText) else ""
        if typed is not None and text not in ("?", "") and not text.startswith("+1"):
            lang = typed.lang
        return Ctx(session=s, event=event, sender=sender, lang=lang, policy=self.policy,
                   settings=self.settings, now=self.clock())

    async def _route(self, ctx: Ctx, typed: Command | None) -> None:
        ev = ctx.event
        if typed is None:
            assert isinstance(ev, CardAction)  # every message was parsed in feed
            typed = action_command(ev.action, ctx.lang)
        handler = self.router.get(typed)
        if handler is None:
            ctx.say_key("unknown_command")
            return
        await handler(ctx, typed)

