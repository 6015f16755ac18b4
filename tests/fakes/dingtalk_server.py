"""A loopback fake of DingTalk: the OpenAPI and the Stream gateway on one port.

It runs in **its own thread with its own event loop** (platforms.md §1.12/§5: the SDK's
blocking ``requests`` calls deadlock a fake that shares the caller's loop). Tests talk to it
through thread-safe methods and read what it recorded (``requests``, ``opens``, ``acks``).
Signatures are checked with code written here, independently of ``bot.platforms.dingtalk``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

CLIENT_ID = "dingfakeclientid"
CLIENT_SECRET = "fake-client-secret"
ROBOT_SECRET = "SECfakerobotsecret"
ROBOT_TOKEN = "robot-token-1"
TOKEN_HEADER = "x-acs-dingtalk-access-token"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    token: str | None  # the x-acs-dingtalk-access-token header
    json: Any


@dataclass
class FakeDingTalk:
    """``with FakeDingTalk() as dt:`` then use ``dt.base_url`` as JIFEN_DINGTALK_API_BASE."""

    expire_in: int = 7200
    requests: list[Recorded] = field(default_factory=list)
    opens: list[dict[str, Any]] = field(default_factory=list)  # connections/open bodies
    acks: list[dict[str, Any]] = field(default_factory=list)  # frames the client sent us
    flow_controlled: set[str] = field(default_factory=set)
    invalid_users: set[str] = field(default_factory=set)
    expired_sessions: set[str] = field(default_factory=set)
    refuse_opens: int = 0  # answer the next N connections/open with HTTP 503
    # keep every CALLBACK frame until its ACK arrives and send it again on each new connection,
    # as DingTalk redelivers what was not acknowledged (platforms.md §1.10: treat bot messages
    # as at-least-once); off by default, so a test sees each frame once unless it asks
    redeliver: bool = False
    _unacked: dict[str, str] = field(default_factory=dict)  # messageId → frame, in push order
    # 免登: codes the client's requestAuthCode handed out → userid (five minutes, once)
    auth_codes: dict[str, str] = field(default_factory=dict)
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)
    _tickets: set[str] = field(default_factory=set)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    port: int = 0

    # --- lifecycle (its own thread and loop) -------------------------------------------------

    def __enter__(self) -> FakeDingTalk:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                        name="fake-dingtalk")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake DingTalk did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._startup())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _startup(self) -> None:
        app = web.Application()
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # no access log: tokens in queries
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- test controls -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session_webhook(self, session: str = "s1") -> str:
        return f"{self.base_url}/robot/sendBySession?session={session}"

    def robot_webhook(self, token: str = ROBOT_TOKEN) -> str:
        return f"{self.base_url}/robot/send?access_token={token}"

    def fail_next(self, n: int, *, status: int = 500, body: dict[str, Any] | None = None) -> None:
        """The next ``n`` OpenAPI/webhook requests answer ``status`` with ``body``."""
        self._failures.extend((status, body or {"code": "ServiceUnavailable"}) for _ in range(n))

    def expire_tokens(self) -> None:
        self._tokens.clear()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path)]

    @property
    def connected(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    def push(self, frame: dict[str, Any]) -> None:
        """Send a frame on the newest open stream socket."""
        self.push_many([frame])

    def push_many(self, frames: list[dict[str, Any]]) -> None:
        """Send frames back to back on the newest open socket (one hop to the fake's loop)."""
        self._call(self._push_all([(f, json.dumps(f, ensure_ascii=False)) for f in frames]))

    @property
    def unacked(self) -> list[str]:
        """messageIds of CALLBACK frames sent and not ACKed yet (with ``redeliver``)."""
        return list(self._unacked)

    def redeliver_unacked(self) -> None:
        """Send every unACKed frame again on the newest socket, as DingTalk does when an ACK is
        late (platforms.md §1.10: duplicates some 16–60 s later); the test decides when."""
        self._call(self._push_all([(json.loads(t), t) for t in self._unacked.values()]))

    async def _push_all(self, frames: list[tuple[dict[str, Any], str]]) -> None:
        for frame, text in frames:
            message_id = frame.get("headers", {}).get("messageId")
            if self.redeliver and frame.get("type") == "CALLBACK" and message_id:
                self._unacked[message_id] = text  # before sending: its ACK may come at once
            await self._push(text)

    def drop(self) -> None:
        """Close the stream socket abnormally, like a dead connection (code 1011)."""
        self._call(self._drop())

    async def _push(self, text: str) -> None:
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no stream client connected")
        await open_sockets[-1].send_str(text)

    async def _drop(self) -> None:
        for ws in self._sockets:
            await ws.close(code=1011, message=b"fake outage")

    # --- the stream gateway (platforms.md §1.2–§1.6) -------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.opens.append(body)
        if self.refuse_opens > 0:
            self.refuse_opens -= 1
            return web.json_response({"code": "ServiceUnavailable"}, status=503)
        if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
            return web.json_response({"code": "InvalidClient"}, status=401)
        ticket = f"tkt+{next(self._ids)}/="  # characters that need quoting (§1.3)
        self._tickets.add(ticket)
        return web.json_response({"endpoint": f"ws://127.0.0.1:{self.port}/connect",
                                  "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=403)
        self._tickets.discard(ticket)  # single use
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        for text in list(self._unacked.values()):  # what the last connection left unACKed
            await ws.send_str(text)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                ack = json.loads(msg.data)
                self.acks.append(ack)
                if ack.get("code") == 200:
                    self._unacked.pop(str((ack.get("headers") or {}).get("messageId")), None)
        return ws

    # --- the OpenAPI and webhooks (platforms.md §2) ---------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        token = request.headers.get(TOKEN_HEADER)
        self.requests.append(Recorded(request.method, request.path, dict(request.query), token,
                                      body))
        if self._failures:
            status, failure = self._failures.pop(0)
            return web.json_response(failure, status=status)
        route = ROUTES.get((request.method, request.path))
        if route is None:
            return web.json_response({"code": "NotFound"}, status=404)
        if route.needs_token and token not in self._tokens:
            return web.json_response({"code": "InvalidAuthentication",
                                      "message": "不合法的access_token"}, status=400)
        return route.answer(self, request, body)

    def _token(self, _request: web.Request, body: Any) -> web.Response:
        if body != {"appKey": CLIENT_ID, "appSecret": CLIENT_SECRET}:
            return web.json_response({"code": "invalidClientId"}, status=400)
        token = f"tok-{next(self._ids)}"
        self._tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": self.expire_in})

    def auth_code(self, userid: str) -> str:
        """What ``dd.runtime.permission.requestAuthCode`` gives the page of ``userid``."""
        code = f"authcode-{next(self._ids)}"
        self.auth_codes[code] = userid
        return code

    def expire_auth_codes(self) -> None:
        self.auth_codes.clear()

    def _oapi_token(self, request: web.Request, _body: Any) -> web.Response:
        """Old-style ``GET /gettoken?appkey=…&appsecret=…`` (the app's Client ID / Secret)."""
        q = request.query
        if q.get("appkey") != CLIENT_ID or q.get("appsecret") != CLIENT_SECRET:
            return web.json_response({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
        token = f"oapi-{next(self._ids)}"
        self._tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token,
                                  "expires_in": self.expire_in})

    def _oapi_userinfo(self, request: web.Request, body: Any) -> web.Response:
        """``POST /topapi/v2/user/getuserinfo?access_token=…`` ``{"code": …}`` → the userid."""
        if request.query.get("access_token") not in self._tokens:
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        userid = self.auth_codes.pop(str((body or {}).get("code", "")), None)
        if userid is None:
            return web.json_response({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "result": {
            "userid": userid, "name": userid, "associated_unionid": "", "unionid": "u-" + userid,
            "device_id": "d1", "sys": False, "sys_level": 0}})

    def _batch_send(self, _request: web.Request, body: Any) -> web.Response:
        users = body.get("userIds") or []
        if len(users) > 20 or not isinstance(body.get("msgParam"), str):
            return web.json_response({"code": "param.invalid"}, status=400)
        return web.json_response({
            "processQueryKey": f"pq-{next(self._ids)}",
            "flowControlledStaffIdList": [u for u in users if u in self.flow_controlled],
            "invalidStaffIdList": [u for u in users if u in self.invalid_users]})

    def _group_send(self, _request: web.Request, body: Any) -> web.Response:
        if not isinstance(body.get("msgParam"), str) or not body.get("openConversationId"):
            return web.json_response({"code": "param.invalid"}, status=400)
        return web.json_response({"processQueryKey": f"pq-{next(self._ids)}"})

    def _card(self, _request: web.Request, body: Any) -> web.Response:
        params = body.get("cardData", {}).get("cardParamMap", {})
        if not all(isinstance(v, str) for v in params.values()):
            return web.json_response({"code": "param.invalid",
                                      "message": "cardParamMap values must be strings"}, status=400)
        return web.json_response({"success": True, "result": {"outTrackId": body.get("outTrackId"),
                                                              "deliverResults": []}})

    def _by_session(self, request: web.Request, _body: Any) -> web.Response:
        if request.query.get("session") in self.expired_sessions:
            return web.json_response({"errcode": 300001, "errmsg": "session 不存在"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _robot(self, request: web.Request, _body: Any) -> web.Response:
        q = request.query
        if q.get("access_token") != ROBOT_TOKEN:
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        ts = q.get("timestamp", "")
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600_000:
            return web.json_response({"errcode": 310000, "errmsg": "invalid timestamp"})
        string_to_sign = f"{ts}\n{ROBOT_SECRET}".encode()
        expected = base64.b64encode(hmac.new(ROBOT_SECRET.encode(), string_to_sign,
                                             hashlib.sha256).digest()).decode()
        if q.get("sign") != expected:
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@dataclass(frozen=True)
class _Route:
    answer: Callable[[FakeDingTalk, web.Request, Any], web.Response]
    needs_token: bool = True


ROUTES: dict[tuple[str, str], _Route] = {
    ("POST", "/v1.0/oauth2/accessToken"): _Route(FakeDingTalk._token, needs_token=False),
    ("POST", "/v1.0/robot/oToMessages/batchSend"): _Route(FakeDingTalk._batch_send),
    ("POST", "/v1.0/robot/groupMessages/send"): _Route(FakeDingTalk._group_send),
    ("POST", "/v1.0/card/instances/createAndDeliver"): _Route(FakeDingTalk._card),
    ("PUT", "/v1.0/card/instances"): _Route(FakeDingTalk._card),
    ("POST", "/robot/sendBySession"): _Route(FakeDingTalk._by_session, needs_token=False),
    ("POST", "/robot/send"): _Route(FakeDingTalk._robot, needs_token=False),
    ("GET", "/gettoken"): _Route(FakeDingTalk._oapi_token, needs_token=False),
    ("POST", "/topapi/v2/user/getuserinfo"): _Route(FakeDingTalk._oapi_userinfo, needs_token=False),
}


# --- payloads and frames as DingTalk sends them (platforms.md §1.4, §1.8, §1.9) -------------

def bot_message(*, text: str = " 积分", msg_id: str = "msg-1", sender: str = "user001",
                group: bool = False, at_users: list[dict[str, str]] | None = None,
                webhook: str = "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
                expires_ms: int | None = None) -> dict[str, Any]:
    now = int(time.time() * 1000)
    data: dict[str, Any] = {
        "conversationId": "cidGroup001==" if group else "cidSingle001==",
        "chatbotCorpId": "dingcorp", "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": msg_id, "senderNick": "张三", "isAdmin": False, "senderStaffId": sender,
        "sessionWebhookExpiredTime": expires_ms if expires_ms is not None else now + 5_400_000,
        "createAt": now, "senderCorpId": "dingcorp", "conversationType": "2" if group else "1",
        "senderId": "$:LWCP_v1:$sender", "sessionWebhook": webhook,
        "text": {"content": text}, "robotCode": CLIENT_ID, "msgtype": "text"}
    if group:
        data.update(conversationTitle="测试群", isInAtList=True, atUsers=at_users or [
            {"dingtalkId": "$:LWCP_v1:$robot"}])
    return data


def card_callback(*, action: str = "ap:A12", user: str = "manager1",
                  out_track_id: str = "track-1") -> dict[str, Any]:
    private = json.dumps({"cardPrivateData": {"actionIds": ["btn_1"], "params": {"action": action}}})
    return {"extension": "{}", "corpId": "dingcorp", "spaceType": "im", "userIdType": 1,
            "type": "actionCallback", "userId": user, "spaceId": "cidSingle001==",
            "outTrackId": out_track_id, "content": private, "value": private}


def callback_frame(data: dict[str, Any], *, topic: str, message_id: str) -> dict[str, Any]:
    return {"specVersion": "1.0", "type": "CALLBACK",
            "headers": {"appId": "app", "connectionId": "conn", "contentType": "application/json",
                        "messageId": message_id, "time": str(int(time.time() * 1000)),
                        "topic": topic},
            "data": json.dumps(data, ensure_ascii=False)}


def system_frame(topic: str, data: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
    headers = {"topic": topic, "contentType": "application/json"}
    if message_id:
        headers["messageId"] = message_id
    return {"specVersion": "1.0", "type": "SYSTEM", "headers": headers, "data": json.dumps(data)}
