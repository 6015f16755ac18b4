"""Who is opening the mall inside WeCom or DingTalk: the platform's one-time code → its userid.

* WeCom (企业微信 网页授权, https://developer.work.weixin.qq.com/document/path/96714 "构造网页授权
  链接"): the app page sends the browser to ``open.weixin.qq.com/connect/oauth2/authorize?appid=
  CORPID&redirect_uri=…&response_type=code&scope=snsapi_base&state=…#wechat_redirect``; WeCom
  comes back to ``redirect_uri?code=CODE&state=STATE`` and ``GET cgi-bin/auth/getuserinfo?
  access_token=…&code=CODE`` answers ``userid`` for a member (only ``openid`` for an outsider).
  A code works once and for five minutes; a bad one is errcode 40029.
* DingTalk (免登, https://www.codetd.com/article/17288450 "企业内部应用中免登获取用户信息"): the
  page calls ``dd.runtime.permission.requestAuthCode({corpId})`` and gets ``code`` (five minutes,
  once); the server exchanges it with ``POST oapi.dingtalk.com/topapi/v2/user/getuserinfo?
  access_token=…`` body ``{"code": …}`` → ``{"errcode": 0, "result": {"userid": …}}``, the token
  coming from the old-style ``GET gettoken?appkey=…&appsecret=…`` (the app's Client ID / Secret).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.platforms.wecom import client_from_settings
from bot.platforms.wecom.client import WeComClient, WeComError
from config.settings import Settings

TIMEOUT = aiohttp.ClientTimeout(total=10)
DINGTALK_TOKEN_ERRORS = frozenset({40014, 42001, 88})  # invalid / expired access_token


class CodeRefused(Exception):
    """The platform says the code is wrong, used or expired."""


class PlatformDown(Exception):
    """The platform could not be asked (network, 5xx, busy)."""


@dataclass
class Identity:
    """Per-app clients for the exchange, made on first use and closed with the app."""

    settings: Settings
    wecom: WeComClient | None = None
    http: aiohttp.ClientSession | None = None
    dingtalk_token: str | None = None
    dingtalk_token_until: float = 0.0

    async def close(self) -> None:
        if self.wecom is not None:
            await self.wecom.close()
        if self.http is not None:
            await self.http.close()

    async def wecom_userid(self, code: str) -> str | None:
        """The member's userid for ``code``; None for a non-member (``openid`` only)."""
        if self.wecom is None:
            self.wecom = client_from_settings(self.settings)
        try:
            data = await self.wecom.call("auth/getuserinfo", params={"code": code})
        except WeComError as exc:
            if exc.retriable or exc.errcode < 0:
                raise PlatformDown(str(exc)) from None
            raise CodeRefused(str(exc.errcode)) from None
        userid = data.get("userid") or data.get("UserId")
        return str(userid) if userid else None

    async def dingtalk_userid(self, code: str) -> str | None:
        for fresh in (False, True):
            token = await self._dingtalk_token(fresh)
            data = await self._oapi("POST", "/topapi/v2/user/getuserinfo",
                                    params={"access_token": token}, body={"code": code})
            errcode = int(data.get("errcode", 0) or 0)
            if errcode in DINGTALK_TOKEN_ERRORS and not fresh:
                continue
            if errcode != 0:
                raise CodeRefused(str(errcode))
            result = data.get("result") or {}
            userid = result.get("userid") if isinstance(result, dict) else None
            return str(userid) if userid else None
        raise CodeRefused("token")

    async def _dingtalk_token(self, fresh: bool) -> str:
        if not fresh and self.dingtalk_token and time.monotonic() < self.dingtalk_token_until:
            return self.dingtalk_token
        s = self.settings
        secret = s.dingtalk_client_secret.get_secret_value() if s.dingtalk_client_secret else ""
        data = await self._oapi("GET", "/gettoken",
                                params={"appkey": s.dingtalk_client_id or "", "appsecret": secret})
        token = data.get("access_token")
        if int(data.get("errcode", 0) or 0) != 0 or not isinstance(token, str) or not token:
            raise PlatformDown(f"gettoken errcode {data.get('errcode')}")
        self.dingtalk_token = token
        self.dingtalk_token_until = time.monotonic() + int(data.get("expires_in", 7200)) - 300
        return token

    async def _oapi(self, method: str, path: str, *, params: dict[str, str],
                    body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.http is None:
            self.http = aiohttp.ClientSession()
        url = self.settings.dingtalk_oapi_base.rstrip("/") + path
        try:
            async with self.http.request(method, url, params=params, json=body,
                                         timeout=TIMEOUT) as resp:
                if resp.status != 200:
                    raise PlatformDown(f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # only the class name: aiohttp messages may embed the URL with its access_token
            raise PlatformDown(type(exc).__name__) from None
        if not isinstance(data, dict):
            raise PlatformDown("not a JSON object")
        return data


IDENTITY_KEY = web.AppKey("mall_identity", Identity)


def identity_of(app: web.Application) -> Identity:
    return app[IDENTITY_KEY]


def setup_identity(app: web.Application, settings: Settings) -> None:
    app[IDENTITY_KEY] = Identity(settings)

    async def _close(_app: web.Application) -> None:
        await _app[IDENTITY_KEY].close()

    app.on_cleanup.append(_close)
