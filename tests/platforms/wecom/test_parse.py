"""Decrypted XML → neutral events."""

from __future__ import annotations

import pytest

from bot.platforms.wecom.crypto import MalformedError
from bot.platforms.wecom.parse import parse_event
from bot.runtime.events import CardAction, IncomingText, Source
from tests.fakes.wecom_server import card_event_xml, text_xml


def test_text_message() -> None:
    event = parse_event(text_xml(user="zhangsan", content="明细 5", msg_id="42"))
    assert event == IncomingText(source=Source(platform="wecom", user_id="zhangsan"),
                                 message_id="42", text="明细 5")


def test_template_card_event() -> None:
    xml = card_event_xml(user="lisi", key="approve:A12", task_id="task_9",
                         response_code="RC-7", create_time=1700000001)
    assert parse_event(xml) == CardAction(
        source=Source(platform="wecom", user_id="lisi"),
        event_id="lisi:1700000001:approve:A12",
        action="approve:A12",
        card_ref="task_9",
        response_code="RC-7",
    )


@pytest.mark.parametrize("xml", [
    "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><Event>enter_agent</Event>"
    "<CreateTime>1</CreateTime></xml>",
    "<xml><FromUserName>u</FromUserName><MsgType>image</MsgType><MsgId>1</MsgId></xml>",
    "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType>"
    "<Event>template_card_menu_event</Event><EventKey>k</EventKey><CreateTime>1</CreateTime></xml>",
])
def test_other_messages_ignored(xml: str) -> None:
    assert parse_event(xml) is None


def test_empty_text_is_empty_string() -> None:
    xml = text_xml(content="").replace("<![CDATA[]]>", "")
    event = parse_event(xml)
    assert isinstance(event, IncomingText) and event.text == ""


@pytest.mark.parametrize("xml", [
    "<xml><MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>",  # no sender
    "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><Content>hi</Content></xml>",
    "<xml><FromUserName><a>1</a></FromUserName><MsgType>text</MsgType><MsgId>1</MsgId></xml>",
    "<other/>",
])
def test_malformed_messages_raise(xml: str) -> None:
    with pytest.raises(MalformedError):
        parse_event(xml)


def test_change_contact_becomes_a_contact_change() -> None:
    from bot.runtime.events import ContactChange

    def xml(change: str, extra: str) -> str:
        return ("<xml><ToUserName><![CDATA[c]]></ToUserName><FromUserName><![CDATA[sys]]>"
                "</FromUserName><CreateTime>17</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                f"<Event><![CDATA[change_contact]]></Event><ChangeType><![CDATA[{change}]]>"
                f"</ChangeType>{extra}</xml>")

    assert parse_event(xml("update_user", "<UserID>a</UserID><NewUserID>b</NewUserID>")) == \
        ContactChange("wecom", "update_user:a:17", "upsert", ("b",), renamed_from="a")
    assert parse_event(xml("delete_user", "<UserID>a</UserID>")) == \
        ContactChange("wecom", "delete_user:a:17", "leave", ("a",))
    assert parse_event(xml("delete_party", "<Id>4</Id>")) == \
        ContactChange("wecom", "delete_party:4:17", "department")
    assert parse_event(xml("update_tag", "<TagId>1</TagId>")) is None
