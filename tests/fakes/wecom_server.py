"""Loopback fakes of WeCom: the API server (``/cgi-bin/…``) and the callback sender.

``FakeWeComAPI`` records every request, issues tokens, and can be told to fail the next N
calls (HTTP status or errcode). ``WeComCallbackSender`` builds callback requests the way WeCom
does, with wechatpy's own encryption, independent of ``bot.platforms.wecom.crypto``.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.enterprise.crypto import WeChatCrypto

CORP_ID = "wwfakecorp0001"
SECRET = "fake-secret"
TOKEN = "fakecallbacktoken"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # 43 chars, from the WeCom sample
AGENT_ID = 1000002
ROBOT_KEY = "robot-key-1"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # e.g. "/cgi-bin/message/send"
    query: dict[str, str]
    json: Any


@dataclass
class _Failure:
    status: int = 200
    errcode: int = 0


@dataclass
class FakeWeComAPI:
    """``async with FakeWeComAPI() as api:`` then point a client at ``api.base_url``."""

    corp_id: str = CORP_ID
    secret: str = SECRET
    expires_in: int = 7200
    requests: list[Recorded] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _valid_tokens: set[str] = field(default_factory=set)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None
    # web OAuth (snsapi_base): who "is in the WeCom client", and the codes handed out → userid
    oauth_user: str | None = None
    oauth_codes: dict[str, str] = field(default_factory=dict)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/cgi-bin/{tail:.*}", self._handle)
        app.router.add_get("/connect/oauth2/authorize", self._authorize)
        # No access log: it would print tokens and secrets from the query (the fake plays WeCom).
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server(access_log=None)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use `async with FakeWeComAPI()`"
        return str(self._server.make_url("/cgi-bin/"))

    def webhook_url(self, key: str = ROBOT_KEY) -> str:
        return f"{self.base_url}webhook/send?{urlencode({'key': key})}"

    def fail_next(self, n: int, *, status: int = 200, errcode: int = 0) -> None:
        """The next ``n`` requests (any path) answer HTTP ``status`` and/or ``errcode``."""
        self._failures.extend(_Failure(status, errcode) for _ in range(n))

    def expire_tokens(self) -> None:
        """Every token issued so far now gets errcode 42001, like an early invalidation."""
        self._valid_tokens.clear()

    def calls(self, path: str) -> list[Recorded]:
        """Recorded requests whose path ends with ``path`` (e.g. ``"message/send"``)."""
        return [r for r in self.requests if r.path.endswith(path)]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        tail = request.match_info["tail"]
        self.requests.append(Recorded(request.method, request.path, dict(request.query), body))
        if self._failures:
            failure = self._failures.pop(0)
            if failure.status != 200:
                return web.Response(status=failure.status, text="fake outage")
            return _err(failure.errcode, "fake failure")
        if tail == "gettoken":
            return self._gettoken(request)
        if tail == "webhook/send":
            ok = request.query.get("key") == ROBOT_KEY
            return _err(0, "ok") if ok else _err(93000, "invalid webhook url")
        if request.query.get("access_token") not in self._valid_tokens:
            return _err(42001, "access_token expired")
        if tail == "auth/getuserinfo":
            return self._userinfo(request)
        return web.json_response(self._answer(tail, body))

    @property
    def oauth_base(self) -> str:
        """JIFEN_WECOM_OAUTH_BASE for the fake (it plays open.weixin.qq.com too)."""
        return self.base_url.removesuffix("/cgi-bin/")

    def expire_codes(self) -> None:
        """Every OAuth code handed out so far is now too old (WeCom: five minutes)."""
        self.oauth_codes.clear()

    async def _authorize(self, request: web.Request) -> web.Response:
        """The WeCom client on ``connect/oauth2/authorize``: back to ``redirect_uri`` with a
        one-time code for the member using it (no code when nobody is signed in)."""
        q = request.query
        self.requests.append(Recorded(request.method, request.path, dict(q), None))
        if q.get("appid") != self.corp_id or q.get("scope") != "snsapi_base" or \
                q.get("response_type") != "code" or not q.get("redirect_uri"):
            return web.Response(status=400, text="bad authorize request")
        code = f"code-{next(self._counter)}-{secrets.token_hex(4)}"
        if self.oauth_user is not None:
            self.oauth_codes[code] = self.oauth_user
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        return web.Response(status=302, headers={"Location": target})

    def _userinfo(self, request: web.Request) -> web.Response:
        """``auth/getuserinfo``: a member's ``userid``; an outsider (``ext:`` here) gets only an
        ``openid``; a used, unknown or expired code is errcode 40029."""
        userid = self.oauth_codes.pop(request.query.get("code", ""), None)
        if userid is None:
            return _err(40029, "invalid code")
        if userid.startswith("ext:"):
            return web.json_response({"errcode": 0, "errmsg": "ok", "openid": userid[4:]})
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": userid,
                                  "user_ticket": "ticket"})

    def _gettoken(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("corpid") != self.corp_id or q.get("corpsecret") != self.secret:
            return _err(40001, "invalid credential")
        token = f"tok-{next(self._counter)}-{secrets.token_hex(4)}"
        self._valid_tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token,
                                  "expires_in": self.expires_in})

    def _answer(self, tail: str, body: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if tail == "message/send":
            data.update(invaliduser="", msgid=f"msg-{next(self._counter)}")
            if isinstance(body, dict) and body.get("msgtype") == "template_card":
                data["response_code"] = f"rc-{next(self._counter)}"
        return data


def _err(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


@dataclass(frozen=True)
class SignedRequest:
    query: dict[str, str]
    body: bytes = b""

    @property
    def query_string(self) -> str:
        return urlencode(self.query)


@dataclass(frozen=True)
class WeComCallbackSender:
    """Builds what WeCom sends to ``/wecom/callback`` (platforms.md §3.1–§3.3)."""

    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID

    def url_verification(self, echo: str = "echo-1616140317555161061", *,
                         timestamp: str | None = None, nonce: str = "263014780") -> SignedRequest:
        ts = timestamp or str(int(time.time()))
        echostr = self._encrypt(echo)
        sig = signature(self.token, ts, nonce, echostr)
        return SignedRequest({"msg_signature": sig, "timestamp": ts, "nonce": nonce,
                              "echostr": echostr})

    def message(self, xml: str, *, timestamp: str | None = None,
                nonce: str = "1372623149") -> SignedRequest:
        ts = timestamp or str(int(time.time()))
        encrypt = self._encrypt(xml)
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        sig = signature(self.token, ts, nonce, encrypt)
        return SignedRequest({"msg_signature": sig, "timestamp": ts, "nonce": nonce},
                             body.encode())

    def _encrypt(self, plaintext: str) -> str:
        # wechatpy's reply envelope carries exactly the Encrypt value WeCom would send.
        envelope = WeChatCrypto(self.token, self.aes_key, self.corp_id).encrypt_message(
            plaintext, "n", "0")
        start = envelope.index("<Encrypt><![CDATA[") + len("<Encrypt><![CDATA[")
        return str(envelope[start:envelope.index("]]></Encrypt>")])


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """Reference signature, written out independently of the code under test."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def text_xml(user: str = "zhangsan", content: str = "积分", msg_id: str = "1234567890123456",
             create_time: int = 1348831860) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{create_time}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")


def card_event_xml(user: str = "lisi", key: str = "approve:A12", task_id: str = "task_1",
                   response_code: str = "RC-1", create_time: int = 1700000000) -> str:
    """``template_card_event`` exactly as platforms.md §3.5 quotes WC-90240."""
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{create_time}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
            f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
            "<CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID>"
            "<SelectedItems><SelectedItem><QuestionKey><![CDATA[q1]]></QuestionKey><OptionIds>"
            "<OptionId><![CDATA[o1]]></OptionId></OptionIds></SelectedItem></SelectedItems></xml>")
