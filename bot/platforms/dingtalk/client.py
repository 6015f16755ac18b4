"""Async DingTalk OpenAPI client on aiohttp (the SDK's ``requests`` calls block, §1.12).

Every OpenAPI URL, ``/v1.0/oauth2/accessToken`` included, is built from ``api_base``
(``JIFEN_DINGTALK_API_BASE``); custom-robot URLs (from the policy file) are used as given, and
a sessionWebhook — it arrives in the request body, so it is untrusted — only on DingTalk's own
hosts or ``api_base``'s origin (:func:`trusted_webhook`; else we would POST wherever a signed
or replayed body points, e.g. an internal address: SSRF). Each
request has a timeout; retries are bounded (``RetryPolicy.attempts``) with jittered backoff on
network errors, HTTP 5xx/429 and throttling codes, plus exactly one token refresh when a token is
refused. URLs carry session and robot tokens, so only paths are logged, never queries, tokens or
secrets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.platforms.base import ApiClient, Sleep
from bot.platforms.dingtalk.cardbody import create_and_deliver_body, update_body
from bot.platforms.dingtalk.errors import (
    ERR_BAD_RESPONSE,
    ERR_FOREIGN_WEBHOOK,
    ERR_NETWORK,
    DingTalkError,
    RetryPolicy,
    TokenRejected,
    classify,
)
from bot.platforms.dingtalk.signature import signed_webhook_url

log = logging.getLogger("jifen.dingtalk")

DEFAULT_API_BASE = "https://api.dingtalk.com"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
TOKEN_MARGIN_S = 300  # the SDK refreshes 5 minutes early too (§2.1)
BATCH_LIMIT = 20  # userIds per batchSend call (§2.2)
JSON = dict[str, Any]
# sessionWebhook hosts: oapi.dingtalk.com in every documented sample (platforms.md §1.8, §2.5);
# api.dingtalk.com is DingTalk's OpenAPI host (§1.7)
DINGTALK_HOSTS = frozenset({"oapi.dingtalk.com", "api.dingtalk.com"})


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return parts.scheme, parts.hostname, port


def trusted_webhook(url: str, api_base: str = DEFAULT_API_BASE) -> bool:
    """True for ``https://`` on a DingTalk host (port 443), or the origin of ``api_base``."""
    origin = _origin(url)
    if origin is None:
        return False
    return origin == _origin(api_base) or (origin[0] == "https" and origin[1] in DINGTALK_HOSTS
                                            and origin[2] == 443)


@dataclass(frozen=True)
class BatchSendResult:
    """Merged answer of the ≤ 20-user batchSend calls. ``flow_controlled`` users were not sent
    to (throttled per user: retry later); ``invalid`` ones never will be."""

    process_query_keys: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    flow_controlled: tuple[str, ...] = ()
    filtered: tuple[str, ...] = ()

    def merge(self, data: JSON) -> BatchSendResult:
        def ids(key: str) -> tuple[str, ...]:
            return tuple(str(u) for u in data.get(key) or ())

        key = data.get("processQueryKey")
        return BatchSendResult(
            self.process_query_keys + ((str(key),) if key else ()),
            self.invalid + ids("invalidStaffIdList"),
            self.flow_controlled + ids("flowControlledStaffIdList"),
            self.filtered + ids("filteredStaffIdList"))


class DingTalkClient(ApiClient):
    """One enterprise-internal app: AppKey (client id) + AppSecret, robotCode (default AppKey)."""

    def __init__(self, *, app_key: str, app_secret: str, robot_code: str | None = None,
                 api_base: str = DEFAULT_API_BASE, session: aiohttp.ClientSession | None = None,
                 retry: RetryPolicy | None = None, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._app_key, self._app_secret = app_key, app_secret
        self.robot_code = robot_code or app_key
        self._base = api_base.rstrip("/")
        self._init_http(session=session, retry=retry, sleep=sleep, clock=clock)

    # --- robot messages (platforms.md §2.2–§2.5, §2.7) -------------------------------------

    async def batch_send(self, user_ids: Sequence[str], msg_key: str,
                         msg_param: Mapping[str, Any]) -> BatchSendResult:
        """1:1 robot messages, split into calls of ≤ 20 users; ``msgParam`` goes as a JSON string."""
        result = BatchSendResult()
        param = json.dumps(dict(msg_param), ensure_ascii=False)
        for i in range(0, len(user_ids), BATCH_LIMIT):
            data = await self.call("POST", "/v1.0/robot/oToMessages/batchSend", {
                "robotCode": self.robot_code, "userIds": list(user_ids[i:i + BATCH_LIMIT]),
                "msgKey": msg_key, "msgParam": param})
            result = result.merge(data)
        return result

    async def group_send(self, open_conversation_id: str, msg_key: str,
                         msg_param: Mapping[str, Any]) -> JSON:
        """A robot message to a group the robot is in (``conversationId`` of its messages)."""
        return await self.call("POST", "/v1.0/robot/groupMessages/send", {
            "robotCode": self.robot_code, "openConversationId": open_conversation_id,
            "msgKey": msg_key, "msgParam": json.dumps(dict(msg_param), ensure_ascii=False)})

    async def session_webhook_send(self, url: str, body: Mapping[str, Any]) -> JSON:
        """POST a ``{"msgtype": "markdown"|"text", …}`` body to a message's sessionWebhook; an
        expired one fails with code ``300001`` (not retriable: fall back to the OpenAPI), and so
        does a URL that is not DingTalk's (``ERR_FOREIGN_WEBHOOK``, refused before any request)."""
        if not trusted_webhook(url, self._base):
            log.warning("dingtalk: sessionWebhook outside DingTalk's hosts refused")
            raise DingTalkError(ERR_FOREIGN_WEBHOOK, "sessionWebhook host is not DingTalk's",
                                retriable=False)
        return await self._retrying("POST", url, dict(body), headers={})

    async def custom_robot_send(self, url: str, secret: str | None, body: Mapping[str, Any]) -> JSON:
        """A custom group robot webhook, 加签 with ``secret`` when given (§2.7). A fresh
        timestamp per try: the signature is only valid for an hour."""
        async def once() -> JSON:
            target = signed_webhook_url(url, secret) if secret else url
            return await self._once("POST", target, dict(body), headers={})

        return await self._with_retries(once, "custom robot")

    # --- interactive cards (§2.6) ----------------------------------------------------------

    async def create_and_deliver_card(self, *, template_id: str, out_track_id: str,
                                      card_param_map: Mapping[str, Any],
                                      user_id: str | None = None,
                                      open_conversation_id: str | None = None,
                                      at_user_ids: Mapping[str, str] | None = None) -> JSON:
        """Create a card and deliver it to one user's robot chat or to a group (exactly one of
        ``user_id`` / ``open_conversation_id``); clicks come back over Stream."""
        body = create_and_deliver_body(
            template_id=template_id, out_track_id=out_track_id, card_param_map=card_param_map,
            robot_code=self.robot_code, user_id=user_id,
            open_conversation_id=open_conversation_id, at_user_ids=at_user_ids)
        return await self.call("POST", "/v1.0/card/instances/createAndDeliver", body)

    async def update_card(self, out_track_id: str, card_param_map: Mapping[str, Any]) -> JSON:
        """Change only the given keys of a delivered card, for everyone who sees it."""
        return await self.call("PUT", "/v1.0/card/instances",
                               update_body(out_track_id, card_param_map))

    # --- generic ---------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: JSON | None = None) -> JSON:
        """Any token-authenticated OpenAPI call under ``api_base``."""
        url = self._base + path
        for refreshed in (False, True):
            token = await self.access_token()
            try:
                return await self._retrying(method, url, body, headers={TOKEN_HEADER: token})
            except TokenRejected:
                if refreshed:
                    raise
                log.info("dingtalk: access token refused; fetching a new one")
                if self._token == token:  # a concurrent caller may already hold a fresh one
                    self._token = None
        raise AssertionError("unreachable")

    async def access_token(self) -> str:
        """The cached token, fetched when missing or about to expire (one fetch at a time)."""
        async with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires:
                data = await self._retrying("POST", self._base + "/v1.0/oauth2/accessToken", {
                    "appKey": self._app_key, "appSecret": self._app_secret}, headers={})
                token = data.get("accessToken")
                if not isinstance(token, str) or not token:
                    raise DingTalkError(ERR_BAD_RESPONSE, "no accessToken", retriable=False)
                expires_in = float(data.get("expireIn", 7200))
                self._token = token
                self._token_expires = self._clock() + max(expires_in - TOKEN_MARGIN_S,
                                                          expires_in / 2)
            return self._token

    async def _retrying(self, method: str, url: str, body: JSON | None, *,
                        headers: dict[str, str]) -> JSON:
        return await self._with_retries(lambda: self._once(method, url, body, headers=headers),
                                        f"{method} {_path(url)}")

    async def _with_retries(self, attempt: Callable[[], Awaitable[JSON]], what: str) -> JSON:
        """Bounded jittered backoff; a wait DingTalk imposes that is longer than our longest
        backoff is not slept here but raised, so the outbox can reschedule the message."""
        for retry in range(self._retry.attempts):
            try:
                return await attempt()
            except DingTalkError as exc:
                last = retry + 1 >= self._retry.attempts
                too_long = (exc.retry_after or 0) > self._retry.max_delay
                if isinstance(exc, TokenRejected) or not exc.retriable or last or too_long:
                    raise
                delay = self._retry.delay(retry)
                log.warning("dingtalk: %s failed (%s), retry in %.2fs", what, exc.code, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable: RetryPolicy.attempts must be >= 1")

    async def _once(self, method: str, url: str, body: JSON | None, *,
                    headers: dict[str, str]) -> JSON:
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout)
        try:
            async with self._http().request(method, url, json=body, headers=headers,
                                            timeout=timeout) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            # only the class name: aiohttp messages may embed the URL and its token
            raise DingTalkError(ERR_NETWORK, f"network: {type(exc).__name__}",
                                retriable=True) from None
        data = _json(text)
        error = classify(status, data)
        if error is not None:
            raise error
        if not isinstance(data, dict):
            raise DingTalkError(ERR_BAD_RESPONSE, "response is not a JSON object",
                                retriable=False, http_status=status)
        return data

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _json(text: str) -> object:
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return None  # e.g. an HTML error page from a proxy


def _path(url: str) -> str:
    """The URL without its query, for logs (sessionWebhook and robot queries hold tokens)."""
    return url.split("?", 1)[0]
