"""Neutral events: every transport (WeCom, DingTalk Stream/HTTP, playground) produces these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """Where an event came from and how to answer it."""

    platform: str  # wecom | dingtalk | playground
    user_id: str  # the platform's authenticated user id (never from a button payload)
    conversation_id: str | None = None  # group chat id; None for 1:1
    is_group: bool = False
    reply_hint: dict[str, Any] = field(default_factory=dict)  # e.g. DingTalk sessionWebhook


@dataclass(frozen=True)
class IncomingText:
    source: Source
    message_id: str  # platform message id, the dedupe key
    text: str
    mentions: tuple[str, ...] = ()  # platform user ids @-mentioned (DingTalk atUsers)


@dataclass(frozen=True)
class CardAction:
    source: Source
    event_id: str  # dedupe key (WeCom: FromUserName+CreateTime+EventKey; DingTalk: outTrackId+…)
    action: str  # the button's packed payload, e.g. "approve:A12"
    card_ref: str | None = None  # platform handle to update the card in place (task_id, outTrackId)
    response_code: str | None = None  # WeCom response_code for update_template_card


Event = IncomingText | CardAction


@dataclass(frozen=True)
class ContactChange:
    """The platform's address book changed (WeCom change_contact, DingTalk contact events).

    Not a chat event: it goes to the directory sync, never to the dispatcher. ``kind`` is
    ``upsert`` (fetch these users and apply), ``leave`` or ``department`` (re-read everything).
    """

    platform: str
    event_id: str  # dedupe key: the platform may deliver one change more than once
    kind: str
    user_ids: tuple[str, ...] = ()
    renamed_from: str | None = None  # WeCom update_user with NewUserID: the old user id
