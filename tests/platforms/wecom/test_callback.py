"""``/wecom/callback`` end to end over real HTTP with WeCom-style encrypted requests."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.platforms.wecom import transport
from bot.platforms.wecom.crypto import WeComCrypto
from bot.platforms.wecom.transport import CALLBACK_PATH, TASKS_KEY, setup_routes
from bot.runtime.events import CardAction, Event, IncomingText, Source
from tests.fakes.wecom_server import (
    AES_KEY,
    CORP_ID,
    TOKEN,
    SignedRequest,
    WeComCallbackSender,
    card_event_xml,
    text_xml,
)

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
sender = WeComCallbackSender()


class RecordingFeed:
    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.events: list[Event] = []
        self.delay = delay
        self.error = error
        self.finished = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        self.events.append(event)
        self.finished.set()


def make_app(feed: RecordingFeed, ack_budget: float = 3.0) -> web.Application:
    app = web.Application()
    crypto = WeComCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    setup_routes(app, crypto=crypto, feed=feed, ack_budget=ack_budget)
    return app


@pytest.fixture
def feed() -> RecordingFeed:
    return RecordingFeed()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, feed: RecordingFeed) -> Client:
    return await aiohttp_client(make_app(feed))


async def post(client: Client, req: SignedRequest) -> tuple[int, str]:
    # BytesIO: aiohttp warns that large raw-bytes bodies may block the loop.
    resp = await client.post(f"{CALLBACK_PATH}?{req.query_string}", data=io.BytesIO(req.body))
    return resp.status, await resp.text()


async def test_url_verification(client: Client) -> None:
    req = sender.url_verification("1616140317555161061")
    resp = await client.get(f"{CALLBACK_PATH}?{req.query_string}")
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"  # bare, no quotes or newline (§3.1)


async def test_url_verification_bad_signature(client: Client) -> None:
    req = sender.url_verification("x")
    query = {**req.query, "msg_signature": "f" * 40}
    resp = await client.get(CALLBACK_PATH, params=query)
    assert resp.status == 403


async def test_text_message_reaches_feed(client: Client, feed: RecordingFeed) -> None:
    status, body = await post(client, sender.message(text_xml("zhangsan", "余额", "777")))
    assert (status, body) == (200, "")
    assert feed.events == [IncomingText(source=Source("wecom", "zhangsan"), message_id="777",
                                        text="余额")]


async def test_card_click_reaches_feed(client: Client, feed: RecordingFeed) -> None:
    xml = card_event_xml("lisi", "reject:A3", "task_3", "RC-3", 1700000003)
    assert await post(client, sender.message(xml)) == (200, "")
    assert feed.events == [CardAction(source=Source("wecom", "lisi"),
                                      event_id="lisi:1700000003:reject:A3", action="reject:A3",
                                      card_ref="task_3", response_code="RC-3")]


async def test_other_events_acked_and_ignored(client: Client, feed: RecordingFeed) -> None:
    xml = ("<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
           "<MsgType>event</MsgType><Event>enter_agent</Event></xml>")
    assert await post(client, sender.message(xml)) == (200, "")
    assert feed.events == []


def _bad_signature() -> SignedRequest:
    req = sender.message(text_xml())
    return SignedRequest({**req.query, "msg_signature": "0" * 40}, req.body)


def _stale() -> SignedRequest:
    return sender.message(text_xml(), timestamp=str(int(time.time()) - 3600))


def _garbage() -> SignedRequest:
    return SignedRequest(sender.message(text_xml()).query, b"\x00\xffgarbage")


def _entity_envelope() -> SignedRequest:
    body = b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    return SignedRequest(sender.message(text_xml()).query, body)


def _entity_inner() -> SignedRequest:
    return sender.message('<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>&a;</MsgType></xml>')


def _missing_params() -> SignedRequest:
    req = sender.message(text_xml())
    return SignedRequest({"timestamp": req.query["timestamp"]}, req.body)


def _oversized() -> SignedRequest:
    return SignedRequest(sender.message(text_xml()).query, b"<xml>" + b"a" * (1024 * 1024))


def _inner_not_a_message() -> SignedRequest:
    return sender.message("<xml><MsgType>text</MsgType><Content>no sender</Content></xml>")


def _long_msg_id() -> SignedRequest:  # the probe's PostgreSQL DataError: ids past String(200)
    return sender.message(text_xml(msg_id="9" * 201))


def _long_user() -> SignedRequest:
    return sender.message(text_xml(user="u" * 201))


def _long_card_user() -> SignedRequest:
    return sender.message(card_event_xml(user="u" * 65))


def _odd_msg_id() -> SignedRequest:  # not printable ASCII: no WeCom id looks like this
    return sender.message(text_xml(msg_id="１２３ 4"))


def _long_event_key() -> SignedRequest:
    return sender.message(card_event_xml(key="ap:" + "A" * 200))


@pytest.mark.parametrize(("make", "status"), [
    (_long_msg_id, 400),
    (_long_user, 400),
    (_long_card_user, 400),
    (_odd_msg_id, 400),
    (_long_event_key, 400),
    (_bad_signature, 403),
    (_stale, 403),
    (_garbage, 400),
    (_entity_envelope, 400),
    (_entity_inner, 400),
    (_missing_params, 400),
    (_inner_not_a_message, 400),
    (_oversized, 413),
])
async def test_refusals_change_nothing_and_server_keeps_serving(
    client: Client, feed: RecordingFeed,
    make: Callable[[], SignedRequest], status: int,
) -> None:
    assert (await post(client, make()))[0] == status
    assert feed.events == []
    assert await post(client, sender.message(text_xml(msg_id="after"))) == (200, "")
    assert [e.message_id for e in feed.events if isinstance(e, IncomingText)] == ["after"]


async def test_chunked_oversized_body_refused(client: Client, feed: RecordingFeed) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"a" * (64 * 1024)

    req = sender.message(text_xml())
    resp = await client.post(f"{CALLBACK_PATH}?{req.query_string}", data=chunks())
    assert resp.status == 413
    assert feed.events == []


async def test_slow_feed_is_acked_within_budget_and_finishes(aiohttp_client: ClientFactory) -> None:
    feed = RecordingFeed(delay=0.5)
    app = make_app(feed, ack_budget=0.05)
    client = await aiohttp_client(app)
    started = time.monotonic()
    assert await post(client, sender.message(text_xml())) == (200, "")
    assert time.monotonic() - started < 0.4
    assert feed.events == [] and len(app[TASKS_KEY]) == 1
    await asyncio.wait_for(feed.finished.wait(), 2)
    await asyncio.sleep(0)
    assert len(feed.events) == 1 and not app[TASKS_KEY]


async def test_feed_failure_inside_budget_asks_for_redelivery(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(make_app(RecordingFeed(error=RuntimeError("db down"))))
    assert (await post(client, sender.message(text_xml())))[0] == 500


async def test_shutdown_cancels_stuck_work(aiohttp_client: ClientFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "SHUTDOWN_GRACE_S", 0.05)
    feed = RecordingFeed(delay=3600)
    app = make_app(feed, ack_budget=0.01)
    client = await aiohttp_client(app)
    assert await post(client, sender.message(text_xml())) == (200, "")
    (task,) = app[TASKS_KEY]
    await client.close()
    assert task.cancelled()
