"""The DingTalk outgoing policy in one place, for the outbox ``Deliverer`` to call.

* reply to a chat message: the message's ``sessionWebhook`` while it is valid (markdown; in a
  group it @-mentions the sender), else the OpenAPI (``batchSend`` 1:1 / ``groupMessages/send``);
  an expired webhook (``300001``) falls back at once (platforms.md §2.5).
* a card with buttons becomes an interactive card (``createAndDeliver``) when a template is
  configured — a sessionWebhook cannot carry one — and markdown with the ``或回复：…`` text
  fallbacks otherwise (SPEC §4/§5).
* broadcasts: ``group_send`` for a group the robot is in, the signed custom-robot webhook else.

Methods return the card's ``outTrackId`` when an interactive card was sent (to update it in
place later), else ``None``; failures raise :class:`DingTalkError` (see :func:`delivery_error`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from bot.platforms.base import DeliveryError
from bot.platforms.dingtalk.client import BatchSendResult, DingTalkClient
from bot.platforms.dingtalk.errors import (
    ERR_FLOW_CONTROLLED,
    ERR_INVALID_USER,
    DingTalkError,
)
from cards.model import Card
from cards.render_dingtalk import card_param_map, dingtalk_markdown_text, render_dingtalk_markdown

log = logging.getLogger("jifen.dingtalk")

SAMPLE_MARKDOWN = "sampleMarkdown"
WEBHOOK_MARGIN_MS = 60_000  # don't start a send on a webhook that expires within a minute
FLOW_CONTROL_RETRY_S = 60.0  # no documented figure; the outbox backs off further if needed


class DingTalkSender:
    def __init__(self, client: DingTalkClient, *, card_template_id: str | None = None,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.client = client
        self.card_template_id = card_template_id or None
        self._clock_ms = clock_ms

    def interactive(self, card: Card) -> bool:
        return bool(self.card_template_id and card.buttons)

    async def reply(self, user_id: str, card: Card, *, hint: Mapping[str, Any],
                    conversation_id: str | None = None) -> str | None:
        """Answer a message from ``user_id`` (in group ``conversation_id``, if any)."""
        url = hint.get("sessionWebhook")
        if not self.interactive(card) and isinstance(url, str) and self._valid(hint):
            body = render_dingtalk_markdown(card)
            if conversation_id:
                body["at"] = {"atUserIds": [user_id]}
            try:
                await self.client.session_webhook_send(url, body)
                return None
            except DingTalkError as exc:
                if exc.retriable:
                    raise
                log.info("dingtalk: sessionWebhook refused (%s); using the OpenAPI", exc.code)
        if conversation_id:
            return await self.to_group(conversation_id, card)
        return await self.to_user(user_id, card)

    async def to_user(self, user_id: str, card: Card) -> str | None:
        """A push to one employee (``dingtalk_userid`` = staff id) in the robot's 1:1 chat."""
        if self.interactive(card):
            return await self._card(card, user_id=user_id)
        result = await self.client.batch_send([user_id], SAMPLE_MARKDOWN, _markdown_param(card))
        check_batch(result, user_id)
        return None

    async def to_group(self, open_conversation_id: str, card: Card) -> str | None:
        """A group the robot is a member of (a broadcast target of kind ``group``)."""
        if self.interactive(card):
            return await self._card(card, open_conversation_id=open_conversation_id)
        await self.client.group_send(open_conversation_id, SAMPLE_MARKDOWN, _markdown_param(card))
        return None

    async def to_webhook(self, url: str, secret: str | None, card: Card) -> None:
        """A custom group robot (a broadcast target of kind ``webhook``): markdown only."""
        await self.client.custom_robot_send(url, secret, render_dingtalk_markdown(card))

    async def update_card(self, out_track_id: str, card: Card, replace_text: str) -> None:
        """Show the decided state (no buttons, ``replaceText``) on a delivered card."""
        await self.client.update_card(out_track_id, card_param_map(card, replace_text=replace_text))

    async def _card(self, card: Card, *, user_id: str | None = None,
                    open_conversation_id: str | None = None) -> str:
        assert self.card_template_id is not None
        track = uuid.uuid4().hex
        await self.client.create_and_deliver_card(
            template_id=self.card_template_id, out_track_id=track,
            card_param_map=card_param_map(card), user_id=user_id,
            open_conversation_id=open_conversation_id)
        return track

    def _valid(self, hint: Mapping[str, Any]) -> bool:
        try:
            expires = int(hint.get("sessionWebhookExpiredTime"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return expires - WEBHOOK_MARGIN_MS > self._clock_ms()


def check_batch(result: BatchSendResult, user_id: str) -> None:
    """A batchSend "succeeds" even for users it did not send to: turn those into errors."""
    if user_id in result.flow_controlled:
        raise DingTalkError(ERR_FLOW_CONTROLLED, f"{user_id} is flow controlled", retriable=True,
                            retry_after=FLOW_CONTROL_RETRY_S)
    if user_id in result.invalid:
        raise DingTalkError(ERR_INVALID_USER, f"{user_id} is not a valid staff id",
                            retriable=False)


def delivery_error(exc: DingTalkError) -> DeliveryError:
    """The outbox's view of a DingTalk failure (retriable or not, and DingTalk's wait)."""
    return DeliveryError(f"DingTalk {exc.code}: {exc.message}", retriable=exc.retriable,
                         retry_after=exc.retry_after)


def _markdown_param(card: Card) -> dict[str, str]:
    return {"title": card.title, "text": dingtalk_markdown_text(card)}
