"""DingTalk JSON (Stream frame ``data`` or HTTP-mode body) → neutral events.

Wire shapes: platforms.md §1.8 (bot message) and §1.9 (card callback). We read the dicts
ourselves instead of ``dingtalk_stream.ChatbotMessage``/``CardCallbackMessage``: those drop
fields we need (``value``, ``spaceId``) and raise on odd input, while one small dict-based path
lets the Stream and HTTP transports share exactly the same parsing. Unknown shapes → ``None``;
a known shape with impossible values (an id that is not an id, ``atUsers: 5``, ``richText: 5``)
→ :class:`MalformedPayload`, which HTTP mode answers with 400 and Stream drops (logged).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from bot.platforms.ids import MAX_ID, MAX_USER_ID, valid_id
from bot.runtime.events import CardAction, Event, IncomingText, Source

log = logging.getLogger("jifen.dingtalk")

PLATFORM = "dingtalk"
TOPIC_BOT_MESSAGE = "/v1.0/im/bot/messages/get"
TOPIC_CARD_CALLBACK = "/v1.0/card/instances/callback"
ACTION_PARAM = "action"  # the template sets each button's 回传参数 to {"action": …} (render_dingtalk)
MAX_EVENT_ID = MAX_ID  # + "evt:dingtalk:" + outbox suffixes stays under String(200)
MAX_TRACK_ID = 128  # outTrackId: we create them (uuid4 hex), DingTalk allows up to 128
_BLANKS = " \t\r\n\u3000\u00a0"  # DingTalk leaves a (sometimes full-width) space after the @bot


class MalformedPayload(ValueError):
    """A bot message or card callback whose fields cannot be what DingTalk sends."""


def parse_payload(data: object, *, frame_id: str | None = None,
                  robot_names: tuple[str, ...] = ()) -> Event | None:
    """Either kind of payload, told apart by shape (HTTP mode has no topic header)."""
    if not isinstance(data, dict):
        return None
    if "outTrackId" in data:
        return parse_card_callback(data, frame_id=frame_id)
    if "msgId" in data:
        return parse_bot_message(data, robot_names=robot_names)
    return None


def parse_bot_message(data: dict[str, Any], *,
                      robot_names: tuple[str, ...] = ()) -> IncomingText | None:
    """A text-like robot message (1:1 or group @bot); ``None`` for images, files, strangers."""
    msg_id, user = _id(data, "msgId", MAX_EVENT_ID), _id(data, "senderStaffId", MAX_USER_ID)
    text = _content(data)
    if not msg_id or not user or text is None:
        # no senderStaffId: a user outside the organisation, whom we cannot identify
        log.info("dingtalk: ignoring msgtype=%.20r (msgId present: %s, staff id present: %s)",
                 data.get("msgtype"), bool(msg_id), bool(user))
        return None
    is_group = str(data.get("conversationType", "1")) == "2"
    hint: dict[str, Any] = {k: data[k] for k in ("sessionWebhook", "sessionWebhookExpiredTime")
                            if k in data}
    source = Source(platform=PLATFORM, user_id=user, is_group=is_group, reply_hint=hint,
                    conversation_id=_id(data, "conversationId", MAX_ID) if is_group else None)
    return IncomingText(source=source, message_id=msg_id, text=strip_mention(text, robot_names),
                        mentions=_mentions(data))


def strip_mention(text: str, robot_names: tuple[str, ...] = ()) -> str:
    """DingTalk removes the ``@bot`` from ``text.content`` but leaves the space after it
    (§1.8 sample ``" 测试数据"``); some clients keep a literal ``@<robot name>``, so known names
    are stripped too. Only the bot's own name: ``@张三`` of a colleague is part of the command."""
    text = text.lstrip(_BLANKS)
    for name in robot_names:
        if name and text.startswith(f"@{name}"):
            text = text[len(name) + 1:].lstrip(_BLANKS)
    return text.rstrip(_BLANKS)


def _content(data: dict[str, Any]) -> str | None:
    msgtype = data.get("msgtype")
    if msgtype == "text" and isinstance(data.get("text"), dict):
        return _str(data["text"], "content")
    content = data.get("content")
    if msgtype == "richText" and isinstance(content, dict):
        parts = _list(content, "richText")
        return "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    if msgtype == "audio" and isinstance(content, dict):
        return _str(content, "recognition")  # DingTalk's own speech-to-text (§1.8)
    return None


def _mentions(data: dict[str, Any]) -> tuple[str, ...]:
    """Staff ids of @-mentioned colleagues, in order, without the robot (its ``dingtalkId`` is
    ``chatbotUserId``) and without users that have no staff id (outside the organisation)."""
    robot = data.get("chatbotUserId")
    found: list[str] = []
    for user in _list(data, "atUsers"):
        if not isinstance(user, dict) or (robot and user.get("dingtalkId") == robot):
            continue
        staff = _id(user, "staffId", MAX_USER_ID)
        if staff and staff not in found:
            found.append(staff)
    return tuple(found)


def parse_card_callback(data: dict[str, Any], *, frame_id: str | None = None) -> CardAction | None:
    """A button click on an interactive card created with ``callbackType: STREAM``.

    ``event_id`` (the dedupe key) is ``outTrackId:userId:<frame messageId>``: a redelivered frame
    keeps its messageId and is deduped, while a second, deliberate click (say "商城" again
    tomorrow) is a new frame and gets a fresh answer; double-clicking an approval is made safe
    by the core, which decides once. Without a frame (HTTP mode) a hash of the payload stands in
    for the messageId, which dedupes byte-identical redeliveries.
    """
    track, user = _id(data, "outTrackId", MAX_TRACK_ID), _id(data, "userId", MAX_USER_ID)
    action = _action(data)
    if not track or not user or not action:
        log.info("dingtalk: ignoring card callback without outTrackId/userId/action")
        return None
    ident = frame_id or _digest(data)
    hint: dict[str, Any] = {k: data[k] for k in ("spaceId", "spaceType")
                            if isinstance(data.get(k), str)}
    source = Source(platform=PLATFORM, user_id=user, reply_hint=hint)
    return CardAction(source=source, event_id=_bounded(f"{track}:{user}:{ident}"), action=action,
                      card_ref=track)


def _action(data: dict[str, Any]) -> str | None:
    """``cardPrivateData.params.action`` from ``content`` (or ``value``), both JSON strings."""
    for key in ("content", "value"):
        raw = data.get(key)
        try:
            body = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        private = body.get("cardPrivateData") if isinstance(body, dict) else None
        params = private.get("params") if isinstance(private, dict) else None
        if isinstance(params, dict) and isinstance(params.get(ACTION_PARAM), str):
            return str(params[ACTION_PARAM])
    return None


def _bounded(event_id: str) -> str:
    """Dedupe keys live in 200-character columns; long ids (outTrackId may be 128) are hashed."""
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return "h:" + hashlib.sha256(event_id.encode()).hexdigest()


def _digest(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _id(data: dict[str, Any], key: str, limit: int) -> str | None:
    """An id field: absent → None; present but not a short printable-ASCII id → refused, so it
    never reaches a bounded column (bot/platforms/ids.py)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not valid_id(value, limit):
        raise MalformedPayload(f"{key} is not a valid id")
    return str(value)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{key} is not a list")
    return value


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None
