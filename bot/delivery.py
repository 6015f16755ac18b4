"""Turns outbox rows into platform calls: who gets it, on which platform, rendered how.

Recipients: ``employee:<id>`` (a push, rendered in their locale, sent to the platform they are
on: WeCom if they have a WeCom id and WeCom is on, else DingTalk, else the playground),
``wecom:<userid>`` / ``dingtalk:<staffid>`` / ``playground:<id>`` (a reply to a chat message),
``target:<name>`` (a broadcast target from the policy file), ``wecom-update:<userid>`` /
``dingtalk-update:<staffid>`` (a card updated in place).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from bot import card_refs
from bot.notifications import render_push
from bot.outbox import Delivery, DeliveryError
from bot.platforms.dingtalk.errors import DingTalkError
from bot.platforms.dingtalk.sender import DingTalkSender, delivery_error
from bot.platforms.wecom.client import WeComClient, WeComError
from cards.model import Card
from cards.render_wecom import render_wecom, render_wecom_markdown, render_wecom_updated
from cards.serialize import card_from_dict, card_to_dict
from core.db import Database
from core.models import Employee
from core.policy import BroadcastTarget, Policy

Linker = Callable[[str | None, Card], Awaitable[Card]]  # (employee or None for a group, card)

WECOM_PER_MEMBER = 30  # messages / minute / member / app (SPEC section 5)
ROBOT_PER_MINUTE = 20  # group robot webhooks
RATE_LIMITS = {"wecom": WECOM_PER_MEMBER, "robot": ROBOT_PER_MINUTE}


class PlaygroundInbox:
    """Cards delivered to playground users, newest last (process memory: it is a local demo)."""

    def __init__(self) -> None:
        self.cards: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def put(self, employee_id: str, card: Card) -> None:
        self.cards[employee_id].append(card_to_dict(card))

    def take(self, employee_id: str) -> list[dict[str, Any]]:
        return self.cards.pop(employee_id, [])


class Deliverer:
    def __init__(self, db: Database, policy: Policy, *, wecom: WeComClient | None = None,
                 dingtalk: DingTalkSender | None = None,
                 playground: PlaygroundInbox | None = None, links: Linker | None = None) -> None:
        self.db, self.policy, self.wecom, self.playground = db, policy, wecom, playground
        self.dingtalk = dingtalk
        self.links = links  # 打开商城 on the cards that lead to the mall (bot.web.mall.links)

    def rate_key(self, d: Delivery) -> str | None:
        kind, _, who = d.recipient.partition(":")
        if kind == "wecom":
            return f"wecom:{who}"
        if kind == "target":
            return f"robot:{who}"
        return None

    async def send(self, d: Delivery) -> None:
        try:
            await self._send(d)
        except DingTalkError as exc:
            raise delivery_error(exc) from None

    async def _send(self, d: Delivery) -> None:
        payload = json.loads(d.payload)
        kind, _, who = d.recipient.partition(":")
        if kind == "dingtalk":
            await self._dingtalk_reply(who, payload)
        elif kind == "dingtalk-update":
            card = card_from_dict(payload["card"])
            await self._need_dingtalk().update_card(payload["task_id"], card, payload["replace_text"])
        elif kind == "employee":
            await self._push(who, d.kind, payload)
        elif kind in ("wecom", "playground"):
            await self._to_user(kind, who, card_from_dict(payload["card"]))
        elif kind == "wecom-update":
            await self._wecom_update(who, payload)
        elif kind == "target":
            await self._broadcast(who, card_from_dict(payload["card"]) if "card" in payload
                                  else render_push(d.kind, payload, "zh", self.policy.timezone))
        else:
            raise DeliveryError(f"unknown recipient {d.recipient}", retriable=False)

    async def _push(self, employee_id: str, kind: str, payload: dict[str, Any]) -> None:
        async with self.db.uow() as s:
            emp = await s.get(Employee, employee_id)
        if emp is None:
            raise DeliveryError(f"employee {employee_id} is gone", retriable=False)
        card = render_push(kind, payload, emp.locale, self.policy.timezone)
        if self.links is not None:
            card = await self.links(emp.employee_id, card)
        if self.wecom is not None and emp.wecom_userid:
            await self._to_user("wecom", emp.wecom_userid, card)
        elif self.dingtalk is not None and emp.dingtalk_userid:
            track = await self.dingtalk.to_user(emp.dingtalk_userid, card)
            await self._remember_dingtalk(card, emp.dingtalk_userid, track)
        elif self.playground is not None:
            self.playground.put(emp.employee_id, card)
        else:
            raise DeliveryError(f"{employee_id} has no account on an enabled platform", retriable=False)
        if kind == "approval_decided":  # every approver's copy of the request shows the outcome
            await card_refs.queue_updates(self.db, str(payload["approval_id"]), card)

    async def _to_user(self, platform: str, user_id: str, card: Card) -> None:
        if platform == "playground":
            if self.playground is not None:
                self.playground.put(user_id, card)
            return
        if self.wecom is None:
            raise DeliveryError("WeCom is not configured", retriable=False)
        task_id = uuid.uuid4().hex if card.buttons else None
        body = render_wecom(card, task_id=task_id)
        response = await self._wecom_call(self.wecom.send(user_id, body["msgtype"], body[body["msgtype"]]))
        await card_refs.remember(self.db, card, platform="wecom", user_id=user_id, task_id=task_id,
                                 response=response)

    def _need_dingtalk(self) -> DingTalkSender:
        if self.dingtalk is None:
            raise DeliveryError("DingTalk is not configured", retriable=False)
        return self.dingtalk

    async def _dingtalk_reply(self, user_id: str, payload: dict[str, Any]) -> None:
        card = card_from_dict(payload["card"])
        track = await self._need_dingtalk().reply(user_id, card, hint=payload.get("reply_hint", {}),
                                                  conversation_id=payload.get("conversation_id"))
        await self._remember_dingtalk(card, user_id, track)

    async def _remember_dingtalk(self, card: Card, user_id: str, track: str | None) -> None:
        if track:  # an interactive card: its outTrackId is what updates it later
            await card_refs.remember(self.db, card, platform="dingtalk", user_id=user_id,
                                     task_id=track, response={"response_code": track})

    async def _wecom_update(self, user_id: str, payload: dict[str, Any]) -> None:
        if self.wecom is None:
            raise DeliveryError("WeCom is not configured", retriable=False)
        body = render_wecom_updated(card_from_dict(payload["card"]), payload["task_id"],
                                    payload["replace_text"])
        await self._wecom_call(self.wecom.update_template_card(
            [user_id], payload["response_code"], body["template_card"]))

    async def _broadcast(self, name: str, card: Card) -> None:
        target = next((tg for tg in self.policy.broadcast.targets if tg.name == name), None)
        if target is None:
            raise DeliveryError(f"broadcast target {name} is not in the policy", retriable=False)
        if self.links is not None:
            card = await self.links(None, card)
        await self._send_target(target, card)

    async def _send_target(self, target: BroadcastTarget, card: Card) -> None:
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
            await self._wecom_call(self.wecom.webhook_send(target.url or "", body))
        else:
            await self._wecom_call(self.wecom.appchat_send(target.chatid or "", "markdown",
                                                           body["markdown"]))

    @staticmethod
    async def _wecom_call(call: Any) -> dict[str, Any]:
        try:
            return dict(await call)
        except WeComError as exc:
            raise DeliveryError(f"WeCom {exc.errcode}: {exc.errmsg}", retriable=exc.retriable) from None
