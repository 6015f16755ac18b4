"""Signatures: vectors computed independently, and ``/dingtalk/callback`` over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.platforms.dingtalk.http import (
    CALLBACK_PATH,
    database_admit,
    setup_routes,
)
from bot.platforms.dingtalk.signature import sign, signed_webhook_url, verify_callback
from bot.runtime.events import CardAction, Event, IncomingText
from core.db import Database
from core.retention import ReplayGuard
from tests.fakes.dingtalk_server import CLIENT_SECRET, bot_message, card_callback

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


def reference_sign(ts: int | str, secret: str) -> str:
    """Written out from platforms.md §2.8 (the official Python sample), not from our module."""
    mac = hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_custom_robot_vector_from_platforms_md() -> None:
    url = signed_webhook_url("https://oapi.dingtalk.com/robot/send?access_token=T", "SECtest",
                             now=1700000000000)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
                   "&sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D")


def test_webhook_without_query_and_decoded_sign() -> None:
    url = signed_webhook_url("http://h/robot/send", "SECabc", now=1234)
    query = parse_qs(urlsplit(url).query)
    assert query == {"timestamp": ["1234"], "sign": [reference_sign(1234, "SECabc")]}
    assert sign(1234, "SECabc") == reference_sign(1234, "SECabc")


def test_verify_callback() -> None:
    now = 1_700_000_000_000
    good = reference_sign(now, "appsecret")
    assert verify_callback(str(now), good, "appsecret", now=now)
    assert verify_callback(str(now - 3_599_000), reference_sign(now - 3_599_000, "appsecret"),
                           "appsecret", now=now)
    stale = now - 3_601_000
    assert not verify_callback(str(stale), reference_sign(stale, "appsecret"), "appsecret", now=now)
    future = now + 3_601_000
    assert not verify_callback(str(future), reference_sign(future, "appsecret"), "appsecret",
                               now=now)
    assert not verify_callback(str(now), good, "othersecret", now=now)
    assert not verify_callback(str(now), good[:-2] + "AA", "appsecret", now=now)
    assert not verify_callback(None, good, "appsecret", now=now)
    assert not verify_callback(str(now), None, "appsecret", now=now)
    assert not verify_callback("12a", good, "appsecret", now=now)
    assert not verify_callback("²", good, "appsecret", now=now)  # isdigit() but not int()-able
    assert not verify_callback(str(now) + "²", good, "appsecret", now=now)
    assert not verify_callback("1" * 400, good, "appsecret", now=now)


# --- the HTTP-mode route -----------------------------------------------------------------

class RecordingFeed:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: Event, *, guard: ReplayGuard | None = None) -> None:
        self.events.append(event)
        self.arrived.set()


@pytest.fixture
def feed() -> RecordingFeed:
    return RecordingFeed()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, feed: RecordingFeed, db: Database) -> Client:
    app = web.Application()
    setup_routes(app, app_secret=CLIENT_SECRET, feed=feed, admit=database_admit(db))
    return await aiohttp_client(app)


_last_stamp = [0]


def _fresh_stamp() -> int:
    """A timestamp never handed out before (two within one millisecond would share a pair)."""
    _last_stamp[0] = max(int(time.time() * 1000), _last_stamp[0] + 1)
    return _last_stamp[0]


def headers(ts: int | None = None, secret: str = CLIENT_SECRET) -> dict[str, str]:
    """A signed pair; without ``ts`` a new one each call (each pair is accepted only once)."""
    stamp = ts if ts is not None else _fresh_stamp()
    return {"timestamp": str(stamp), "sign": reference_sign(stamp, secret)}


async def post(client: Client, body: Any, hdrs: dict[str, str]) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # BytesIO: aiohttp warns that large raw-bytes bodies may block the loop
    resp = await client.post(CALLBACK_PATH, data=io.BytesIO(data), headers=hdrs)
    return resp.status


async def test_signed_message_is_fed(client: Client, feed: RecordingFeed) -> None:
    assert await post(client, bot_message(text=" 余额", msg_id="m-http"), headers()) == 200
    await asyncio.wait_for(feed.arrived.wait(), 2)
    [event] = feed.events
    assert isinstance(event, IncomingText)
    assert (event.message_id, event.text, event.source.user_id) == ("m-http", "余额", "user001")


async def test_card_callback_over_http(client: Client, feed: RecordingFeed) -> None:
    assert await post(client, card_callback(action="rj:A7"), headers()) == 200
    await asyncio.wait_for(feed.arrived.wait(), 2)
    [event] = feed.events
    assert isinstance(event, CardAction) and event.action == "rj:A7"


# Built when the test runs, not at collection: a long suite would otherwise age "future" into
# the accepted ±1 h window.
REFUSED: dict[str, Callable[[], dict[str, str]]] = {
    "missing": lambda: {},
    "no-sign": lambda: {"timestamp": str(int(time.time() * 1000))},
    "bad-secret": lambda: headers(secret="wrong-secret"),
    "stale": lambda: headers(ts=int(time.time() * 1000) - 3_700_000),  # more than 1 h old
    "future": lambda: headers(ts=int(time.time() * 1000) + 3_700_000),
    "garbage": lambda: {**headers(), "sign": "AAAA"},
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_signatures_change_nothing(client: Client, feed: RecordingFeed,
                                                 case: str) -> None:
    assert await post(client, bot_message(), REFUSED[case]()) == 403
    await asyncio.sleep(0.05)
    assert feed.events == []


async def test_malformed_json_is_400(client: Client, feed: RecordingFeed) -> None:
    assert await post(client, b"{not json", headers()) == 400
    assert await post(client, b"\xff\xfe", headers()) == 400
    assert feed.events == []


async def test_oversized_body_is_413(client: Client, feed: RecordingFeed) -> None:
    big = json.dumps({"msgId": "x", "pad": "a" * (1024 * 1024)}).encode()
    assert await post(client, big, headers()) == 413
    assert feed.events == []


async def test_unknown_shape_is_acked_and_ignored(client: Client, feed: RecordingFeed) -> None:
    assert await post(client, {"hello": "world"}, headers()) == 200
    assert await post(client, [1, 2], headers()) == 200
    await asyncio.sleep(0.05)
    assert feed.events == []


async def test_ack_waits_until_the_event_is_stored(aiohttp_client: ClientFactory,
                                                   db: Database) -> None:
    """The 200 follows ``feed`` (the inbox's durable accept), never precedes it."""
    release = asyncio.Event()
    stored: list[Event] = []

    async def slow(event: Event, *, guard: ReplayGuard | None = None) -> None:
        await release.wait()
        stored.append(event)

    app = web.Application()
    setup_routes(app, app_secret=CLIENT_SECRET, feed=slow, admit=database_admit(db))
    client = await aiohttp_client(app)
    request = asyncio.ensure_future(post(client, bot_message(), headers()))
    await asyncio.sleep(0.05)
    assert not request.done()  # not answered while the event is not stored
    release.set()
    assert await request == 200 and len(stored) == 1


async def test_event_that_cannot_be_stored_is_503(aiohttp_client: ClientFactory,
                                                  db: Database) -> None:
    async def broken(event: Event, *, guard: ReplayGuard | None = None) -> None:
        raise ConnectionRefusedError("database down")

    app = web.Application()
    setup_routes(app, app_secret=CLIENT_SECRET, feed=broken, admit=database_admit(db))
    client = await aiohttp_client(app)
    assert await post(client, bot_message(), headers()) == 503
