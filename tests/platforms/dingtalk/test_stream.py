"""Stream mode end to end: the real dingtalk-stream SDK pieces against the fake gateway.

The fake runs in its own thread and loop; the client runs on the test's loop, exactly as it
runs on jifen's loop in production.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator

import dingtalk_stream
import pytest
from dingtalk_stream import card_replier, chatbot
from dingtalk_stream import stream as sdk_stream
from dingtalk_stream import utils as sdk_utils

from bot.platforms.dingtalk.parse import TOPIC_BOT_MESSAGE, TOPIC_CARD_CALLBACK
from bot.platforms.dingtalk.stream import Backoff, DingTalkStream, StreamTimeouts
from bot.runtime.events import CardAction, Event, IncomingText
from tests.fakes.dingtalk_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeDingTalk,
    bot_message,
    callback_frame,
    card_callback,
    system_frame,
)

FAST = Backoff(first=0.05, maximum=0.2, healthy_after=30)
TIMEOUTS = StreamTimeouts(open=2.0, handshake=2.0, close=0.5, stop_grace=0.5)


class RecordingFeed:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def until(predicate: Callable[[], object], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the fake changes state in its own thread
            await asyncio.sleep(0.01)


@pytest.fixture
def feed() -> RecordingFeed:
    return RecordingFeed()


@pytest.fixture
async def stream(dt: FakeDingTalk, feed: RecordingFeed) -> AsyncIterator[DingTalkStream]:
    s = DingTalkStream(feed=feed, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       api_base=dt.base_url, backoff=FAST, timeouts=TIMEOUTS)
    await s.start()
    await until(lambda: dt.connected == 1 and s.connected)
    yield s
    await s.stop()


def acks_for(dt: FakeDingTalk, message_id: str) -> list[dict[str, object]]:
    return [a for a in dt.acks if a.get("headers", {}).get("messageId") == message_id]


async def test_sdk_endpoints_follow_the_configured_base(dt: FakeDingTalk,
                                                       stream: DingTalkStream) -> None:
    assert dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API == (
        dt.base_url + "/v1.0/gateway/connections/open")
    for module in (sdk_utils, sdk_stream, chatbot, card_replier):
        assert module.DINGTALK_OPENAPI_ENDPOINT == dt.base_url  # type: ignore[attr-defined]
    [opened] = dt.opens
    assert opened["clientId"] == CLIENT_ID and opened["clientSecret"] == CLIENT_SECRET
    assert {(s["type"], s["topic"]) for s in opened["subscriptions"]} == {
        ("CALLBACK", TOPIC_BOT_MESSAGE), ("CALLBACK", TOPIC_CARD_CALLBACK)}


async def test_bot_message_is_acked_then_fed(dt: FakeDingTalk, stream: DingTalkStream,
                                             feed: RecordingFeed) -> None:
    data = bot_message(text=" 余额", msg_id="msgX==", sender="user001")
    dt.push(callback_frame(data, topic=TOPIC_BOT_MESSAGE, message_id="frame-1"))
    await until(lambda: feed.events and acks_for(dt, "frame-1"))
    [ack] = acks_for(dt, "frame-1")
    assert ack["code"] == 200
    [event] = feed.events
    assert isinstance(event, IncomingText)
    assert (event.message_id, event.text, event.source.user_id) == ("msgX==", "余额", "user001")
    assert event.source.reply_hint["sessionWebhook"] == data["sessionWebhook"]


async def test_redelivered_frame_is_acked_again(dt: FakeDingTalk, stream: DingTalkStream,
                                                feed: RecordingFeed) -> None:
    frame = callback_frame(bot_message(msg_id="dup"), topic=TOPIC_BOT_MESSAGE, message_id="f-d")
    dt.push(frame)
    dt.push(frame)
    await until(lambda: len(acks_for(dt, "f-d")) == 2 and len(feed.events) == 2)
    # both reach the dispatcher with the same message_id: dedupe is its job
    assert {e.message_id for e in feed.events if isinstance(e, IncomingText)} == {"dup"}


async def test_card_callback_becomes_card_action(dt: FakeDingTalk, stream: DingTalkStream,
                                                 feed: RecordingFeed) -> None:
    data = card_callback(action="ap:A12", user="manager1", out_track_id="trk-7")
    dt.push(callback_frame(data, topic=TOPIC_CARD_CALLBACK, message_id="frame-c"))
    await until(lambda: feed.events and acks_for(dt, "frame-c"))
    [event] = feed.events
    assert isinstance(event, CardAction)
    assert (event.action, event.card_ref, event.source.user_id) == ("ap:A12", "trk-7", "manager1")
    assert event.event_id == "trk-7:manager1:frame-c"
    [ack] = acks_for(dt, "frame-c")
    assert ack["code"] == 200 and json.loads(str(ack["data"])) == {"response": {}}


async def test_ping_is_answered_with_its_opaque(dt: FakeDingTalk, stream: DingTalkStream) -> None:
    dt.push(system_frame("ping", {"opaque": "op-123"}, message_id="p-1"))
    await until(lambda: acks_for(dt, "p-1"))
    [ack] = acks_for(dt, "p-1")
    assert ack["code"] == 200 and json.loads(str(ack["data"])) == {"opaque": "op-123"}


async def test_bad_frames_do_not_kill_the_connection(dt: FakeDingTalk, stream: DingTalkStream,
                                                     feed: RecordingFeed) -> None:
    dt.push({"type": "CALLBACK", "headers": {"topic": TOPIC_BOT_MESSAGE, "messageId": "b"},
             "data": "{not json"})
    dt.push({"type": "EVENT", "headers": {"topic": "*", "messageId": "e"}, "data": "{}"})
    dt.push(callback_frame({"weird": True}, topic=TOPIC_BOT_MESSAGE, message_id="w"))
    await until(lambda: acks_for(dt, "w"))
    assert feed.events == [] and stream.connected and len(dt.opens) == 1


async def test_malformed_ids_and_bodies_are_dropped_and_logged(
        dt: FakeDingTalk, stream: DingTalkStream, feed: RecordingFeed,
        caplog: pytest.LogCaptureFixture) -> None:
    bad = [bot_message(msg_id="m" * 201), bot_message(sender="s" * 201),
           bot_message() | {"msgtype": "richText", "content": {"richText": 5}},
           bot_message(group=True) | {"atUsers": 5}, card_callback(user="u" * 65)]
    for i, data in enumerate(bad):
        topic = TOPIC_CARD_CALLBACK if "outTrackId" in data else TOPIC_BOT_MESSAGE
        dt.push(callback_frame(data, topic=topic, message_id=f"bad-{i}"))
    deep = callback_frame({}, topic=TOPIC_BOT_MESSAGE, message_id="deep")
    deep["data"] = "[" * 200_000 + "]" * 200_000
    dt.push(deep)
    dt.push(callback_frame(bot_message(msg_id="after"), topic=TOPIC_BOT_MESSAGE,
                           message_id="frame-after"))
    await until(lambda: feed.events and acks_for(dt, "frame-after"))
    assert [e.message_id for e in feed.events if isinstance(e, IncomingText)] == ["after"]
    assert stream.connected and len(dt.opens) == 1  # the connection survived all of it
    dropped = [r for r in caplog.records if "bad stream frame dropped" in r.getMessage()]
    assert len(dropped) == len(bad) + 1


async def test_disconnect_frame_reconnects(dt: FakeDingTalk, stream: DingTalkStream,
                                           feed: RecordingFeed) -> None:
    dt.push(system_frame("disconnect", {"reason": "connection is expired"}))
    await until(lambda: len(dt.opens) == 2 and stream.sessions == 2 and dt.connected == 1)
    dt.push(callback_frame(bot_message(msg_id="after"), topic=TOPIC_BOT_MESSAGE,
                           message_id="frame-2"))
    await until(lambda: feed.events and acks_for(dt, "frame-2"))


async def test_dead_socket_reconnects(dt: FakeDingTalk, stream: DingTalkStream) -> None:
    dt.drop()
    await until(lambda: len(dt.opens) == 2 and stream.sessions == 2)


async def test_failed_open_backs_off_and_recovers(dt: FakeDingTalk, feed: RecordingFeed) -> None:
    dt.refuse_opens = 2
    s = DingTalkStream(feed=feed, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       api_base=dt.base_url, backoff=FAST, timeouts=TIMEOUTS)
    await s.start()
    await until(lambda: s.connected)
    assert len(dt.opens) == 3 and s.sessions == 1
    await s.stop()


async def test_wrong_credentials_keep_retrying_without_connecting(dt: FakeDingTalk,
                                                                  feed: RecordingFeed) -> None:
    s = DingTalkStream(feed=feed, client_id=CLIENT_ID, client_secret="wrong",
                       api_base=dt.base_url, backoff=FAST, timeouts=TIMEOUTS)
    await s.start()
    await until(lambda: len(dt.opens) >= 3)
    assert not s.connected and s.sessions == 0
    await s.stop()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (a hung gateway)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_hung_gateway_neither_blocks_the_loop_nor_stop(blackhole: str,
                                                             feed: RecordingFeed) -> None:
    s = DingTalkStream(feed=feed, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       api_base=blackhole, backoff=FAST, timeouts=TIMEOUTS)
    await s.start()
    ticks = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:  # the blocking requests.post runs meanwhile
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks > 20
    started = time.monotonic()
    await s.stop()
    assert time.monotonic() - started < 3


async def test_stop_is_prompt_with_work_in_flight(dt: FakeDingTalk) -> None:
    release = asyncio.Event()
    seen: list[Event] = []

    async def slow(event: Event) -> None:
        seen.append(event)
        await release.wait()  # never set: stop() must cancel it after the grace period

    s = DingTalkStream(feed=slow, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       api_base=dt.base_url, backoff=FAST, timeouts=TIMEOUTS)
    await s.start()
    await until(lambda: s.connected)
    dt.push(callback_frame(bot_message(), topic=TOPIC_BOT_MESSAGE, message_id="slow-1"))
    await until(lambda: seen)
    started = time.monotonic()
    await s.stop()
    assert time.monotonic() - started < 3
    assert not s.connected
    await until(lambda: dt.connected == 0)
