"""The hostile probe's DingTalk HTTP-mode cases, over real HTTP on 127.0.0.1: replayed signatures
(on every replica), malformed bodies (always a 4xx, never a 500) and foreign sessionWebhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from bot.app import build
from bot.inbox import InboxProcessor
from bot.platforms.dingtalk.client import DingTalkClient, trusted_webhook
from bot.platforms.dingtalk.http import CALLBACK_PATH, database_admit, setup_routes
from bot.platforms.dingtalk.parse import MalformedPayload, parse_payload
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.runtime.events import Event, IncomingText
from cards.model import Card
from config.settings import Settings
from core.db import Database
from core.retention import ReplayGuard
from tests.fakes.dingtalk_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeDingTalk,
    bot_message,
    card_callback,
)

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
_last_stamp = [0]


def _fresh_stamp() -> int:
    """A timestamp never handed out before (two within one millisecond would share a pair)."""
    _last_stamp[0] = max(int(time.time() * 1000), _last_stamp[0] + 1)
    return _last_stamp[0]


def signed(ts: int | None = None) -> dict[str, str]:
    stamp = ts if ts is not None else _fresh_stamp()
    mac = hmac.new(CLIENT_SECRET.encode(), f"{stamp}\n{CLIENT_SECRET}".encode(), hashlib.sha256)
    return {"timestamp": str(stamp), "sign": base64.b64encode(mac.digest()).decode()}


class Feed:
    """The real inbox on ``db`` (events and replay guards stored in one transaction); ``events``
    lists what it handed on for processing."""

    def __init__(self, db: Database) -> None:
        self.events: list[Event] = []
        self.inbox = InboxProcessor(db, handle=self._handle, give_up=self._handle)

    async def _handle(self, event: Event, _row_id: int | None = None, _typed: object = None) -> None:
        # (the inbox passes the row id to the dispatcher, which marks it done with the answer)
        self.events.append(event)

    async def __call__(self, event: Event, *, guard: ReplayGuard | None = None) -> None:
        await self.inbox.accept(event, guard=guard)


async def replica(aiohttp_client: ClientFactory, db: Database, feed: Feed) -> Client:
    app = web.Application()
    setup_routes(app, app_secret=CLIENT_SECRET, feed=feed, admit=database_admit(db))
    return await aiohttp_client(app)


def texts(feed: Feed) -> list[str]:
    return [e.message_id for e in feed.events if isinstance(e, IncomingText)]


async def post(client: Client, body: Any, hdrs: dict[str, str]) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(CALLBACK_PATH, data=io.BytesIO(data), headers=hdrs)
    await resp.read()
    return resp.status


@pytest.fixture
async def feed(db: Database) -> AsyncIterator[Feed]:
    feed = Feed(db)
    yield feed
    await feed.inbox.idle()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db: Database, feed: Feed) -> Client:
    return await replica(aiohttp_client, db, feed)


@pytest.fixture
async def other_db(db_url: str) -> AsyncIterator[Database]:
    second = Database(db_url)
    yield second
    await second.dispose()


# --- replay -------------------------------------------------------------------------------

async def test_a_captured_pair_is_accepted_once_on_every_replica(
        aiohttp_client: ClientFactory, client: Client, feed: Feed, other_db: Database) -> None:
    other_feed = Feed(other_db)
    other = await replica(aiohttp_client, other_db, other_feed)  # a second process, same database
    pair = signed()
    assert await post(client, bot_message(text="余额", msg_id="m1"), pair) == 200
    forged = bot_message(text="发放 @E004 7", msg_id="m-forged", sender="hr001")
    assert await post(client, forged, pair) == 403
    assert await post(other, forged, pair) == 403
    await feed.inbox.idle()
    assert texts(feed) == ["m1"]
    assert other_feed.events == []
    assert await post(other, forged | {"msgId": "m2"}, signed()) == 200  # a fresh pair is fine


async def test_two_replicas_racing_with_one_pair_accept_it_once(
        aiohttp_client: ClientFactory, client: Client, feed: Feed, other_db: Database) -> None:
    # SQLite serves one process (README, Scale-out): its replicas race within one app
    other = client if other_db.is_sqlite else await replica(aiohttp_client, other_db, Feed(other_db))
    pair = signed()
    statuses = await asyncio.gather(*(post(c, bot_message(msg_id=f"r{i}"), pair)
                                      for i, c in enumerate([client, other] * 3)))
    assert sorted(statuses) == [200, 403, 403, 403, 403, 403]


async def test_an_unreachable_database_is_503_and_records_nothing(
        aiohttp_client: ClientFactory, client: Client, feed: Feed) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # nothing listens there
    try:
        broken = await replica(aiohttp_client, down, Feed(down))
        pair = signed()
        assert await post(broken, bot_message(msg_id="m-retry"), pair) == 503  # DingTalk retries
        assert await post(client, bot_message(msg_id="m-retry"), pair) == 200  # … and gets in
    finally:
        await down.dispose()


async def _rename(db: Database, old: str, new: str) -> None:
    async with db.uow() as s:
        await s.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_a_store_that_fails_records_no_pair_so_the_identical_retry_gets_in(
        client: Client, feed: Feed, db: Database) -> None:
    """The pair and the event are stored in one transaction: a database error at the inbox
    write (a real one: the table is renamed away) answers 503 and leaves no pair behind."""
    pair, body = signed(), bot_message(text="余额", msg_id="m-atomic")
    await _rename(db, "inbox", "inbox_away")
    try:
        assert await post(client, body, pair) == 503  # DingTalk retries the identical request
    finally:
        await _rename(db, "inbox_away", "inbox")
    assert await post(client, body, pair) == 200
    assert await post(client, bot_message(msg_id="m-forged"), pair) == 403  # now it is spent
    await feed.inbox.idle()
    assert texts(feed) == ["m-atomic"]


async def test_the_identical_retry_of_an_answered_request_is_200_and_changes_nothing(
        aiohttp_client: ClientFactory, client: Client, feed: Feed, other_db: Database) -> None:
    """Our 200 lost on the way: DingTalk sends the identical request (same pair, same body)
    again, possibly to another replica. It is answered 200 — never a 403 DingTalk would count
    as a failure — and the event is not handed on a second time."""
    other = client if other_db.is_sqlite else await replica(aiohttp_client, other_db, Feed(other_db))
    pair, body = signed(), bot_message(text="余额", msg_id="m-lost")
    assert await post(client, body, pair) == 200
    assert await post(client, body, pair) == 200
    assert await post(other, body, pair) == 200
    # the pair still carries nothing else: another event, or no event at all
    assert await post(client, bot_message(msg_id="m-forged"), pair) == 403
    assert await post(client, {"hello": "world"}, pair) == 403
    empty = signed()
    assert await post(client, {"hello": "world"}, empty) == 200
    assert await post(client, {"hello": "world"}, empty) == 200
    assert await post(client, bot_message(msg_id="m-late"), empty) == 403
    await feed.inbox.idle()
    assert texts(feed) == ["m-lost"]


async def test_a_redelivery_under_a_fresh_pair_is_acked_once_and_spends_the_pair(
        client: Client, feed: Feed) -> None:
    body, second = bot_message(msg_id="m-again"), signed()
    assert await post(client, body, signed()) == 200
    assert await post(client, body, second) == 200  # the same event again: stored once
    assert await post(client, bot_message(msg_id="m-other"), second) == 403
    await feed.inbox.idle()
    assert texts(feed) == ["m-again"]


# --- malformed bodies: a 4xx each, nothing fed, and the server keeps serving ---------------

def _deep(depth: int) -> bytes:
    return b'{"msgId": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"


MALFORMED: dict[str, tuple[Callable[[], Any], Callable[[], dict[str, str]]]] = {
    "superscript-two timestamp": (bot_message, lambda: {**signed(), "timestamp": "²"}),
    "unicode-digit timestamp": (bot_message, lambda: {**signed(), "timestamp": "１７００"}),
    "nested 200,000 deep": (lambda: _deep(200_000), signed),
    "richText: 5": (lambda: bot_message() | {"msgtype": "richText", "content": {"richText": 5}},
                    signed),
    "atUsers: 5": (lambda: bot_message(group=True) | {"atUsers": 5}, signed),
    "msgId over 200": (lambda: bot_message(msg_id="m" * 201), signed),
    "msgId not ASCII": (lambda: bot_message(msg_id="消息 1"), signed),
    "msgId a number": (lambda: bot_message() | {"msgId": 12345}, signed),
    "senderStaffId over 200": (lambda: bot_message(sender="s" * 201), signed),
    "staffId in atUsers too long": (lambda: bot_message(group=True, at_users=[
        {"dingtalkId": "x", "staffId": "s" * 65}]), signed),
    "conversationId with a newline": (
        lambda: bot_message(group=True) | {"conversationId": "cid\n=="}, signed),
    "card userId over 64": (lambda: card_callback(user="u" * 65), signed),
    "outTrackId over 128": (lambda: card_callback(out_track_id="t" * 129), signed),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_body_is_a_4xx(client: Client, feed: Feed, case: str) -> None:
    body, hdrs = MALFORMED[case]
    status = await post(client, body(), hdrs())
    assert 400 <= status < 500, status
    assert await post(client, bot_message(msg_id="after"), signed()) == 200
    await feed.inbox.idle()
    assert texts(feed) == ["after"]


@pytest.mark.parametrize("data", [
    bot_message() | {"msgtype": "richText", "content": {"richText": 5}},
    bot_message(group=True) | {"atUsers": {"staffId": "x"}},
    bot_message(sender="s" * 65),
])
def test_parse_refuses_impossible_values(data: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayload):
        parse_payload(data)


# --- sessionWebhook hosts ----------------------------------------------------------------

@pytest.mark.parametrize(("url", "trusted"), [
    ("https://oapi.dingtalk.com/robot/sendBySession?session=s1", True),
    ("https://OAPI.dingtalk.com/robot/sendBySession?session=s1", True),
    ("https://api.dingtalk.com/robot/sendBySession?session=s1", True),
    ("https://oapi.dingtalk.com:443/robot/sendBySession", True),
    ("http://oapi.dingtalk.com/robot/sendBySession", False),  # not TLS
    ("https://oapi.dingtalk.com:8443/robot/sendBySession", False),
    ("https://oapi.dingtalk.com.evil.example/robot", False),
    ("https://evil.example/robot?h=oapi.dingtalk.com", False),
    ("https://oapi.dingtalk.com@evil.example/robot", False),
    ("https://user:pw@oapi.dingtalk.com/robot", False),
    ("https://oapi.dingtalk.com:99999/robot", False),
    ("http://127.0.0.1:8080/ssrf-target", False),
    ("file:///etc/passwd", False),
    ("", False),
])
def test_trusted_webhook(url: str, trusted: bool) -> None:
    assert trusted_webhook(url) is trusted


def test_the_api_base_origin_is_trusted_too() -> None:
    assert trusted_webhook("http://127.0.0.1:9000/robot/sendBySession?s=1", "http://127.0.0.1:9000/")
    assert not trusted_webhook("http://127.0.0.1:9001/robot/sendBySession", "http://127.0.0.1:9000")


async def test_a_foreign_session_webhook_is_never_called_and_the_openapi_answers(
        client_dt: tuple[DingTalkClient, FakeDingTalk]) -> None:
    dt_client, dt = client_dt
    with FakeDingTalk() as target:  # an internal service on another port: the SSRF target
        hint = {"sessionWebhook": target.session_webhook("ssrf"),
                "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000}
        card = Card(kind="message", title="余额", lines=["当前积分 120"])
        await DingTalkSender(dt_client).reply("user001", card, hint=hint)
        assert target.requests == []
    assert dt.calls("/robot/sendBySession") == []
    assert len(dt.calls("/oToMessages/batchSend")) == 1  # the reply still arrives


@pytest.fixture
async def client_dt() -> AsyncIterator[tuple[DingTalkClient, FakeDingTalk]]:
    with FakeDingTalk() as dt:
        async with DingTalkClient(app_key=CLIENT_ID, app_secret=CLIENT_SECRET, robot_code="robot-1",
                                  api_base=dt.base_url) as c:
            yield c, dt


async def test_the_assembled_app_refuses_a_replayed_pair(tmp_path: Path,
                                                         aiohttp_client: ClientFactory) -> None:
    """The real wiring (``jifen run`` with JIFEN_DINGTALK_MODE=http) uses the database guard."""
    with FakeDingTalk() as dt:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db",  # type: ignore[call-arg]
                            dingtalk_mode="http", dingtalk_client_id=CLIENT_ID,
                            dingtalk_client_secret=SecretStr(CLIENT_SECRET), dingtalk_api_base=dt.base_url,
                            _env_file=None)
        client = await aiohttp_client(await build(settings, background=False))
        pair = signed()
        assert await post(client, {"hello": "world"}, pair) == 200
        assert await post(client, bot_message(text="发放 @E004 7"), pair) == 403
