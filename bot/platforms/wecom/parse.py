"""Decrypted WeCom callback XML → neutral events (wire model stays here, never leaks out).

We read the raw XML fields rather than ``wechatpy.enterprise.parse_message``: wechatpy turns
``template_card_event`` into ``UnknownMessage`` anyway (platforms.md §3.11), and one dict-based
path for both kinds keeps the entity refusal in :func:`crypto.parse_xml` in front of every parse.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.platforms.ids import MAX_ID, MAX_USER_ID, valid_id
from bot.platforms.wecom.contact_events import parse_change_contact
from bot.platforms.wecom.crypto import MalformedError, parse_xml
from bot.runtime.events import CardAction, ContactChange, Event, IncomingText, Source

log = logging.getLogger("jifen.wecom")

PLATFORM = "wecom"
MAX_KEY = 64  # our button keys are at most 64 characters (cards/actions.py)
MAX_HANDLE = 200  # ResponseCode is kept in card_refs.handle, String(200)


def parse_event(xml: str) -> Event | ContactChange | None:
    """Neutral event for a text message or a card click; ``None`` for anything else.

    Raises :class:`MalformedError` when the XML is not a WeCom message at all.
    """
    fields = parse_xml(xml)
    msg_type = _text(fields, "MsgType")
    if msg_type == "text":
        return _incoming_text(fields)
    event = _text(fields, "Event") if msg_type == "event" else None
    if event == "template_card_event":
        return _card_action(fields)
    if event == "change_contact":  # address book changes go to the directory sync
        return parse_change_contact(fields)
    log.info("wecom: ignoring MsgType=%.20r Event=%.40r", msg_type, event)  # bounded: sender-chosen
    return None


def _incoming_text(fields: dict[str, Any]) -> IncomingText:
    return IncomingText(
        source=_source(fields),
        message_id=_required(fields, "MsgId", MAX_ID),  # dedupe key (platforms.md §3.4)
        text=_text(fields, "Content") or "",
    )


def _card_action(fields: dict[str, Any]) -> CardAction:
    user = _required(fields, "FromUserName", MAX_USER_ID)
    create_time = _required(fields, "CreateTime", 20)
    key = _required(fields, "EventKey", MAX_KEY)
    # Events carry no MsgId; WeCom says dedupe them on FromUserName+CreateTime (§3.4).
    return CardAction(
        source=_source(fields),
        event_id=f"{user}:{create_time}:{key}",
        action=key,
        card_ref=_optional_id(fields, "TaskId", MAX_ID),
        response_code=_optional_id(fields, "ResponseCode", MAX_HANDLE),  # single use, 72 h (§3.5)
    )


def _source(fields: dict[str, Any]) -> Source:
    return Source(platform=PLATFORM, user_id=_required(fields, "FromUserName", MAX_USER_ID))


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):  # nested element where a scalar belongs
        raise MalformedError(f"<{name}> is not text")
    return value


def _required(fields: dict[str, Any], name: str, limit: int) -> str:
    value = _text(fields, name)
    if not value:
        raise MalformedError(f"missing <{name}>")
    if not valid_id(value, limit):  # never let it reach a bounded column (see bot/platforms/ids.py)
        raise MalformedError(f"<{name}> is not a valid id")
    return value


def _optional_id(fields: dict[str, Any], name: str, limit: int) -> str | None:
    return _required(fields, name, limit) if _text(fields, name) else None
