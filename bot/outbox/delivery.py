"""Turns claimed outbox rows into platform calls: who gets it, on which platform, rendered how.

A push to an employee is rendered in their locale and sent to the platform they are on (WeCom if
they have a WeCom id and WeCom is on, else DingTalk, else the playground). Delivery only sends:
it writes nothing itself; a delivered card with buttons comes back as a
:class:`~core.outbox.card_refs.DeliveredCard` that the worker records with the batch's outcome.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bot.outbox.batching import BatchSender
from bot.outbox.render import render_push
from bot.platforms.base import DeliveryError
from bot.platforms.dingtalk.errors import DingTalkError
from bot.platforms.dingtalk.sender import (
    SAMPLE_MARKDOWN,
    DingTalkSender,
    check_batch,
    delivery_error,
)
from bot.platforms.playground.inbox import PlaygroundInbox
from bot.platforms.wecom.client import WeComClient, WeComError
from cards import actions
from cards.model import Card
from cards.render_dingtalk import dingtalk_markdown_text
from cards.render_wecom import render_wecom, render_wecom_markdown, render_wecom_updated
from cards.serialize import card_from_dict
from core.db import Database
from core.outbox import Contact, Delivery, Recipient
from core.outbox.card_refs import DeliveredCard
from core.outbox.card_refs import approval_ref as ref_of_approval
from core.policy import BroadcastTarget, Policy

Contacts = dict[str, Contact]
Linker = Callable[[str | None, Card], Awaitable[Card]]  # (employee or None for a group, card)
ReplyLinker = Callable[[str, str, Card], Awaitable[Card]]  # (platform, user id, card)


def approval_ref(card: Card) -> str | None:
    """``approval:A12`` for a card whose buttons decide approval A12, else None."""
    for button in card.buttons:
        action = actions.unpack(button.action)
        if isinstance(action, actions.ApproveAction | actions.RejectAction):
            return ref_of_approval(action.approval_id)
    return None


class Deliverer:
    def __init__(self, db: Database, policy: Policy, *, wecom: WeComClient | None = None,
                 dingtalk: DingTalkSender | None = None,
                 playground: PlaygroundInbox | None = None, links: Linker | None = None,
                 reply_links: ReplyLinker | None = None) -> None:
        self.db, self.policy, self.wecom, self.playground = db, policy, wecom, playground
        self.dingtalk = dingtalk
        # 打开商城 on the cards that lead to the mall, minted as they are sent (bot.web.mall.links)
        self.links, self.reply_links = links, reply_links
        self.batch = BatchSender(dingtalk.client) if dingtalk is not None else None

    def rate_key(self, d: Delivery, contacts: Contacts) -> str | None:
        """The platform limit this row counts against (None: no documented limit applies)."""
        r = d.recipient
        if r.kind == "chat" and r.platform == "wecom":
            return f"wecom:{r.id}"
        if r.kind == "employee":
            c = contacts.get(r.id)
            if c is not None and self.wecom is not None and c.wecom_userid:
                return f"wecom:{c.wecom_userid}"
        if r.kind == "target":
            return f"robot:{r.id}"
        return None

    async def send(self, d: Delivery, contacts: Contacts) -> DeliveredCard | None:
        try:
            return await self._send(d, contacts, json.loads(d.payload))
        except DingTalkError as exc:
            raise delivery_error(exc) from None
        except WeComError as exc:
            raise DeliveryError(f"WeCom {exc.errcode}: {exc.errmsg}",
                                retriable=exc.retriable) from None

    async def _send(self, d: Delivery, contacts: Contacts, payload: dict[str, Any]) -> DeliveredCard | None:
        r = d.recipient
        if r.kind == "employee":
            return await self._push(r.id, d.kind, payload, contacts)
        if r.kind == "target":
            card = (card_from_dict(payload["card"]) if "card" in payload
                    else render_push(d.kind, payload, "zh", self.policy.timezone))
            await self._broadcast(r.id, card)
            return None
        if r.kind == "card":
            await self._update(r, payload)
            return None
        card = card_from_dict(payload["card"])
        if self.reply_links is not None:
            card = await self.reply_links(r.platform or "", r.id, card)
        if r.platform == "dingtalk":
            track = await self._need_dingtalk().reply(
                r.id, card, hint=payload.get("reply_hint", {}),
                conversation_id=payload.get("conversation_id"))
            return _delivered(card, "dingtalk", r.id, track, track)
        return await self._to_user(r.platform or "", r.id, card)

    async def _push(self, employee_id: str, kind: str, payload: dict[str, Any],
                    contacts: Contacts) -> DeliveredCard | None:
        c = contacts.get(employee_id)
        if c is None:
            raise DeliveryError(f"employee {employee_id} is gone", retriable=False)
        card = render_push(kind, payload, c.locale, self.policy.timezone)
        if self.links is not None:
            card = await self.links(employee_id, card)
        if self.wecom is not None and c.wecom_userid:
            return await self._to_user("wecom", c.wecom_userid, card)
        if self.dingtalk is not None and c.dingtalk_userid:
            return await self._dingtalk_push(c.dingtalk_userid, card)
        if self.playground is not None:
            self.playground.put(employee_id, card)
            return None
        raise DeliveryError(f"{employee_id} has no account on an enabled platform", retriable=False)

    async def _dingtalk_push(self, user_id: str, card: Card) -> DeliveredCard | None:
        sender = self._need_dingtalk()
        if sender.interactive(card) or self.batch is None:  # a card needs its own outTrackId
            track = await sender.to_user(user_id, card)
            return _delivered(card, "dingtalk", user_id, track, track)
        result = await self.batch.send(user_id, SAMPLE_MARKDOWN, {
            "title": card.title, "text": dingtalk_markdown_text(card)})
        check_batch(result, user_id)
        return None

    async def _to_user(self, platform: str, user_id: str, card: Card) -> DeliveredCard | None:
        if platform == "playground":
            if self.playground is not None:
                self.playground.put(user_id, card)
            return None
        if self.wecom is None:
            raise DeliveryError("WeCom is not configured", retriable=False)
        task_id = uuid.uuid4().hex if card.buttons else None
        body = render_wecom(card, task_id=task_id)
        response = await self.wecom.send(user_id, body["msgtype"], body[body["msgtype"]])
        return _delivered(card, "wecom", user_id, task_id, response.get("response_code"))

    def _need_dingtalk(self) -> DingTalkSender:
        if self.dingtalk is None:
            raise DeliveryError("DingTalk is not configured", retriable=False)
        return self.dingtalk

    def _card_of(self, payload: dict[str, Any]) -> Card:
        if "card" in payload:
            return card_from_dict(payload["card"])
        # queued by the core with the decision: rendered here, as the notification it reports,
        # in the language of the copy's reader (rows queued before locales were kept: zh)
        return render_push(payload["render"], payload["data"], payload.get("locale") or "zh",
                           self.policy.timezone)

    async def _update(self, r: Recipient, payload: dict[str, Any]) -> None:
        card = self._card_of(payload)
        replace_text = payload.get("replace_text") or card.title
        if r.platform == "dingtalk":
            await self._need_dingtalk().update_card(payload["task_id"], card, replace_text)
            return
        if self.wecom is None:
            raise DeliveryError("WeCom is not configured", retriable=False)
        body = render_wecom_updated(card, payload["task_id"], replace_text)
        await self.wecom.update_template_card([r.id], payload["response_code"],
                                              body["template_card"])

    async def _broadcast(self, name: str, card: Card) -> None:
        target = next((tg for tg in self.policy.broadcast.targets if tg.name == name), None)
        if target is None:
            raise DeliveryError(f"broadcast target {name} is not in the policy", retriable=False)
        if self.links is not None:
            card = await self.links(None, card)
        await self._send_target(target, card)

    async def _send_target(self, target: BroadcastTarget, card: Card) -> None:
        if target.platform == "playground":
            if self.playground is None:
                raise DeliveryError("the playground is off", retriable=False)
            self.playground.put_group(card)
            return
        if target.platform == "dingtalk":
            sender = self._need_dingtalk()
            if target.kind == "group":
                await sender.to_group(target.open_conversation_id or "", card)
            else:
                await sender.to_webhook(target.url or "", target.secret, card)
            return
        if self.wecom is None:
            raise DeliveryError("WeCom is not configured", retriable=False)
        body = render_wecom_markdown(card, max_bytes=4096 if target.kind == "webhook" else 2048)
        if target.kind == "webhook":
            await self.wecom.webhook_send(target.url or "", body)
        else:
            await self.wecom.appchat_send(target.chatid or "", "markdown", body["markdown"])


def _delivered(card: Card, platform: str, user_id: str, task_id: str | None,
               handle: Any) -> DeliveredCard | None:
    ref = approval_ref(card)
    if ref is None or not handle:
        return None
    return DeliveredCard(ref, platform, user_id, task_id, str(handle))
