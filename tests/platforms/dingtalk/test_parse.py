"""DingTalk payloads (platforms.md §1.8, §1.9) → neutral events."""

from __future__ import annotations

import json

from bot.platforms.dingtalk.parse import (
    parse_bot_message,
    parse_card_callback,
    parse_payload,
    strip_mention,
)
from bot.runtime.events import CardAction, IncomingText
from tests.fakes.dingtalk_server import bot_message, card_callback


def test_one_to_one_text() -> None:
    data = bot_message(text=" 积分 ", msg_id="msgA==", sender="user001", expires_ms=1690367502152)
    event = parse_payload(data)
    assert isinstance(event, IncomingText)
    assert event.message_id == "msgA=="
    assert event.text == "积分"
    assert event.mentions == ()
    src = event.source
    assert (src.platform, src.user_id, src.is_group, src.conversation_id) == (
        "dingtalk", "user001", False, None)
    assert src.reply_hint == {"sessionWebhook": data["sessionWebhook"],
                              "sessionWebhookExpiredTime": 1690367502152}


def test_group_message_strips_bot_and_lists_mentions() -> None:
    at = [{"dingtalkId": "$:LWCP_v1:$robot"},  # the robot itself
          {"dingtalkId": "$:LWCP_v1:$a", "staffId": "lisi"},
          {"dingtalkId": "$:LWCP_v1:$b", "staffId": "wangwu"},
          {"dingtalkId": "$:LWCP_v1:$a", "staffId": "lisi"},  # twice in the text
          {"dingtalkId": "$:LWCP_v1:$ext"}]  # outside the organisation: no staff id
    data = bot_message(text="\u3000 赞 @李四 @王五 10 感谢支持", group=True, at_users=at)
    event = parse_bot_message(data)
    assert event is not None
    assert event.text == "赞 @李四 @王五 10 感谢支持"
    assert event.mentions == ("lisi", "wangwu")
    assert event.source.is_group and event.source.conversation_id == "cidGroup001=="


def test_literal_robot_name_is_stripped_only_when_known() -> None:
    assert strip_mention(" @积分助手 余额", ("积分助手",)) == "余额"
    assert strip_mention(" @张三 余额", ("积分助手",)) == "@张三 余额"
    assert strip_mention("  help\n") == "help"


def test_rich_text_and_audio() -> None:
    rich = {**bot_message(), "msgtype": "richText",
            "content": {"richText": [{"text": "兑换 "}, {"downloadCode": "x"}, {"text": "SKU1"}]}}
    del rich["text"]
    assert parse_bot_message(rich) is not None
    assert parse_bot_message(rich).text == "兑换 SKU1"  # type: ignore[union-attr]
    audio = {**bot_message(), "msgtype": "audio", "content": {"recognition": "余额"}}
    assert parse_bot_message(audio).text == "余额"  # type: ignore[union-attr]


def test_unusable_messages_are_none() -> None:
    picture = {**bot_message(), "msgtype": "picture", "content": {"downloadCode": "x"}}
    assert parse_payload(picture) is None
    stranger = bot_message()
    del stranger["senderStaffId"]
    assert parse_payload(stranger) is None
    assert parse_payload({"msgId": "m", "msgtype": "text", "text": "not a dict"}) is None
    assert parse_payload({"unknown": 1}) is None
    assert parse_payload("text") is None
    assert parse_payload(None) is None


def test_card_callback_with_frame_id() -> None:
    event = parse_payload(card_callback(action="ap:A12", user="manager1", out_track_id="trk9"),
                          frame_id="frame-1")
    assert isinstance(event, CardAction)
    assert event.action == "ap:A12"
    assert event.card_ref == "trk9"
    assert event.event_id == "trk9:manager1:frame-1"
    assert event.source.user_id == "manager1"
    assert event.source.reply_hint == {"spaceId": "cidSingle001==", "spaceType": "im"}


def test_card_callback_without_frame_hashes_payload() -> None:
    first = parse_card_callback(card_callback())
    again = parse_card_callback(card_callback())
    other = parse_card_callback(card_callback(action="rj:A12"))
    assert first is not None and again is not None and other is not None
    assert first.event_id == again.event_id != other.event_id
    assert first.event_id.startswith("track-1:manager1:")


def test_card_callback_value_fallback_and_bad_content() -> None:
    data = card_callback(action="cr:K7F2QX")
    data["content"] = "{broken"
    event = parse_card_callback(data, frame_id="f")
    assert event is not None and event.action == "cr:K7F2QX"
    no_action = card_callback()
    no_action["content"] = no_action["value"] = json.dumps({"cardPrivateData": {"params": {}}})
    assert parse_card_callback(no_action) is None
    assert parse_card_callback({**card_callback(), "userId": ""}) is None


def test_long_ids_keep_the_event_id_bounded() -> None:
    event = parse_card_callback(card_callback(out_track_id="t" * 128), frame_id="f" * 64)
    assert event is not None and len(event.event_id) <= 120
    assert event.card_ref == "t" * 128


def test_contact_events() -> None:
    from bot.platforms.dingtalk.contact_events import parse_contact_event
    from bot.runtime.events import ContactChange

    assert parse_contact_event("user_leave_org", "e1", {"UserId": ["u1", "u2"]}) == \
        ContactChange("dingtalk", "e1", "leave", ("u1", "u2"))
    assert parse_contact_event("org_dept_modify", "e2", {"deptId": [3]}) == \
        ContactChange("dingtalk", "e2", "department")
    assert parse_contact_event("user_add_org", "e3", {}) is None  # nobody named
    assert parse_contact_event("chat_update_title", "e4", {}) is None
