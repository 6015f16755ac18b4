"""Async WeCom API client on aiohttp (wechatpy's client is blocking ``requests``, §3.11).

Every URL, ``gettoken`` included, is built from ``api_base`` (wechatpy hard-codes gettoken,
platforms.md §4 wechatpy 4). Retries are bounded, unlike wechatpy's unbounded token recursion
(§3.11): at most ``RetryPolicy.attempts`` tries per call for network errors, HTTP 5xx, errcode -1
(system busy) and 45009 (rate limit), plus exactly one token refresh on 40014/42001 (§3.10).
Tokens and webhook keys travel in query strings, so URLs are never logged or put in errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin

import aiohttp

from bot.platforms.base import ApiClient, RetryPolicy, Sleep

log = logging.getLogger("jifen.wecom")

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"
TOKEN_ERRORS = frozenset({40014, 42001})  # invalid / expired access_token (§3.10)
RETRIABLE_ERRORS = frozenset({-1, 45009})  # system busy / API frequency limit
ERR_NETWORK = -1001  # our codes for failures that carry no WeCom errcode
ERR_HTTP = -1002
ERR_BAD_RESPONSE = -1003
TOKEN_MARGIN_S = 300  # refresh a little early: WeCom may invalidate tokens before expires_in


class WeComError(Exception):
    """A WeCom call that failed for good (after retries, or at once if not retriable)."""

    def __init__(self, errcode: int, errmsg: str, *, retriable: bool,
                 http_status: int | None = None) -> None:
        super().__init__(f"WeCom error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.retriable = retriable
        self.http_status = http_status


class _TokenRejected(WeComError):
    """40014/42001: refetch the token and try the call once more."""


class WeComClient(ApiClient):
    """One self-built app (corp id + secret + agent id)."""

    def __init__(self, *, corp_id: str, secret: str, agent_id: int | str,
                 api_base: str = DEFAULT_API_BASE, session: aiohttp.ClientSession | None = None,
                 retry: RetryPolicy | None = None, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._corp_id = corp_id
        self._secret = secret
        self.agent_id = int(agent_id)
        self._base = api_base if api_base.endswith("/") else api_base + "/"
        self._init_http(session=session, retry=retry, sleep=sleep, clock=clock)

    # --- messages (platforms.md §3.7–§3.9) -------------------------------------------------

    async def send_text(self, touser: str | Sequence[str], content: str) -> dict[str, Any]:
        return await self._send(touser, "text", {"content": content})

    async def send(self, touser: str | Sequence[str], msgtype: str,
                   payload: dict[str, Any]) -> dict[str, Any]:
        """message/send with any ``msgtype`` body (as rendered by cards.render_wecom)."""
        return await self._send(touser, msgtype, payload)

    async def send_markdown(self, touser: str | Sequence[str], content: str) -> dict[str, Any]:
        return await self._send(touser, "markdown", {"content": content})

    async def send_template_card(self, touser: str | Sequence[str],
                                 card: dict[str, Any]) -> dict[str, Any]:
        """The response carries ``response_code`` for interaction cards (72 h, single use)."""
        return await self._send(touser, "template_card", card)

    async def update_template_card(self, userids: Sequence[str], response_code: str,
                                   card: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole card (WC-94888 body as in platforms.md §3.6)."""
        return await self.call("message/update_template_card", {
            "userids": list(userids), "agentid": self.agent_id,
            "response_code": response_code, "template_card": card,
        })

    async def update_template_button(self, userids: Sequence[str], response_code: str,
                                     replace_name: str) -> dict[str, Any]:
        """Grey out the buttons with one label (interaction cards only, §3.6)."""
        return await self.call("message/update_template_card", {
            "userids": list(userids), "agentid": self.agent_id,
            "response_code": response_code, "button": {"replace_name": replace_name},
        })

    async def appchat_send(self, chatid: str, msgtype: str,
                           content: str | dict[str, Any]) -> dict[str, Any]:
        """Group chat created by this app (§3.8); a ``str`` becomes ``{"content": …}``."""
        payload = {"content": content} if isinstance(content, str) else content
        return await self.call("appchat/send",
                               {"chatid": chatid, "msgtype": msgtype, msgtype: payload, "safe": 0})

    async def webhook_send(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """Group robot (§3.9): the full URL holds the robot key; no access token."""
        return await self._retrying("POST", url, params={}, body=body)

    # --- generic ---------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any] | None = None, *,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
        """Any token-authenticated API (POST with JSON ``body``, else GET) under ``api_base``."""
        method = "POST" if body is not None else "GET"
        url = urljoin(self._base, path.lstrip("/"))
        for refreshed in (False, True):
            token = await self.access_token()
            query = {**(params or {}), "access_token": token}
            try:
                return await self._retrying(method, url, params=query, body=body)
            except _TokenRejected as exc:
                if refreshed:
                    raise
                self._invalidate(token, exc)
        raise AssertionError("unreachable")

    async def access_token(self) -> str:
        """The cached token, fetched when missing or about to expire."""
        async with self._token_lock:  # one gettoken for concurrent callers
            if self._token is None or self._clock() >= self._token_expires:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    async def _fetch_token(self) -> None:
        url = urljoin(self._base, "gettoken")
        data = await self._retrying(
            "GET", url, params={"corpid": self._corp_id, "corpsecret": self._secret}, body=None)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeComError(ERR_BAD_RESPONSE, "gettoken returned no access_token",
                             retriable=False)
        expires_in = int(data.get("expires_in", 7200))
        self._token = token
        self._token_expires = self._clock() + max(expires_in - TOKEN_MARGIN_S, expires_in / 2)

    def _invalidate(self, token: str, exc: WeComError) -> None:
        log.info("wecom: access token rejected (errcode %d); refetching", exc.errcode)
        if self._token == token:  # a concurrent caller may already hold a fresh one
            self._token = None

    async def _send(self, touser: str | Sequence[str], msgtype: str,
                    payload: dict[str, Any]) -> dict[str, Any]:
        users = touser if isinstance(touser, str) else "|".join(touser)
        return await self.call("message/send", {
            "touser": users, "agentid": self.agent_id, "msgtype": msgtype, msgtype: payload,
        })

    async def _retrying(self, method: str, url: str, *, params: dict[str, str],
                        body: dict[str, Any] | None) -> dict[str, Any]:
        """One call with bounded exponential backoff on retriable failures."""
        for retry in range(self._retry.attempts):
            try:
                return await self._once(method, url, params, body)
            except WeComError as exc:
                last_try = retry + 1 >= self._retry.attempts
                if isinstance(exc, _TokenRejected) or not exc.retriable or last_try:
                    raise
                delay = self._retry.delay(retry)
                log.warning("wecom: %s %s failed (%d), retry in %.2fs",
                            method, _path(url), exc.errcode, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable: RetryPolicy.attempts must be >= 1")

    async def _once(self, method: str, url: str, params: dict[str, str],
                    body: dict[str, Any] | None) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout)
        try:
            async with self._http().request(method, url, params=params, json=body,
                                            timeout=timeout) as resp:
                if resp.status >= 500:
                    raise WeComError(ERR_HTTP, f"HTTP {resp.status}", retriable=True,
                                     http_status=resp.status)
                if resp.status != 200:
                    raise WeComError(ERR_HTTP, f"HTTP {resp.status}", retriable=False,
                                     http_status=resp.status)
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the class name: aiohttp messages may embed the URL, hence the token.
            raise WeComError(ERR_NETWORK, f"network: {type(exc).__name__}",
                             retriable=True) from None
        except ValueError:
            raise WeComError(ERR_BAD_RESPONSE, "response is not JSON", retriable=False) from None
        return _check(data)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _check(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WeComError(ERR_BAD_RESPONSE, "response is not a JSON object", retriable=False)
    errcode = int(data.get("errcode", 0) or 0)
    if errcode == 0:
        return data
    errmsg = str(data.get("errmsg", ""))
    if errcode in TOKEN_ERRORS:
        raise _TokenRejected(errcode, errmsg, retriable=True)
    raise WeComError(errcode, errmsg, retriable=errcode in RETRIABLE_ERRORS)


def _path(url: str) -> str:
    """The URL without its query, for logs (the query holds the token or robot key)."""
    return url.split("?", 1)[0]
