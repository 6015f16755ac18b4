"""The inbox's stored form of an event: every field, and back to the same event."""

from __future__ import annotations

from dataclasses import asdict, fields

from bot.inbox.codec import decode, encode
from bot.runtime.events import CardAction, Event, IncomingText, Source

SOURCE = Source(platform="dingtalk", user_id="u1", conversation_id="c1", is_group=True,
                reply_hint={"session_webhook": "https://x", "nested": {"a": [1, 2]}})
EVENTS: list[Event] = [
    IncomingText(source=SOURCE, message_id="m1", text="赞 @u2 1 thanks", mentions=("u2", "u3")),
    IncomingText(source=Source(platform="wecom", user_id="u9"), message_id="m2", text="积分"),
    CardAction(source=SOURCE, event_id="e1", action="approve:A12", card_ref="t1",
               response_code="rc"),
    CardAction(source=Source(platform="wecom", user_id="u9"), event_id="e2", action="catalog:"),
]


def test_every_field_is_stored_as_asdict_would() -> None:
    for event in EVENTS:
        kind = "text" if isinstance(event, IncomingText) else "action"
        assert encode(event) == {"kind": kind, **asdict(event)}
        assert set(encode(event)) == {"kind", *(f.name for f in fields(event))}


def test_a_stored_event_reads_back_the_same() -> None:
    for event in EVENTS:
        assert decode(encode(event)) == event


def test_the_stored_form_does_not_share_the_events_reply_hint() -> None:
    stored = encode(EVENTS[0])
    source = stored["source"]
    assert isinstance(source, dict)
    assert source["reply_hint"] is not SOURCE.reply_hint
