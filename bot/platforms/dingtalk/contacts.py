"""Reading the DingTalk address book for the directory sync (SPEC section 12).

What we rely on (open.dingtalk.com 通讯录管理, checked 2026-12), all under
``JIFEN_DINGTALK_OAPI_BASE`` (default https://oapi.dingtalk.com) with ``?access_token=``:
* ``GET /gettoken?appkey=&appsecret=`` → ``access_token``, ``expires_in`` (7200 s). The token is
  the same kind the new ``/v1.0/oauth2/accessToken`` issues.
* ``POST /topapi/v2/department/listsub {dept_id}`` → ``result: [{dept_id, name, parent_id}]``,
  one level only: the tree is walked from the root (dept 1).
* ``POST /topapi/v2/user/list {dept_id, cursor, size ≤ 100}`` → ``result: {has_more,
  next_cursor, list: [{userid, name, mobile, email, org_email, hired_date (ms), manager_userid,
  dept_id_list}]}``; a person in several departments is listed in each.
* ``POST /topapi/v2/user/get {userid}`` and ``/topapi/v2/department/get {dept_id}`` for the
  real-time events, which carry only ids. 60121 = no such user (already left).
* Permissions: 通讯录只读权限 (departments, users) and 成员信息读权限; mobile needs 手机号码
  信息 and e-mail 邮箱等个人信息 — without them the fields are simply absent.
* Limits: per app and API about 20 calls/s (90018 "per second", 90002/90019 per minute,
  -1 busy): retried with backoff; an expired token (40014, 42001) is refreshed once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import aiohttp

from bot.platforms.base import ApiClient, RetryPolicy, Sleep
from bot.platforms.dingtalk.errors import ERR_BAD_RESPONSE, ERR_HTTP, ERR_NETWORK, DingTalkError
from core.directory.changes import Member, Roster
from core.directory.sync import department_path

log = logging.getLogger("jifen.dingtalk")

PLATFORM = "dingtalk"
DEFAULT_OAPI_BASE = "https://oapi.dingtalk.com"
ROOT = 1
PAGE = 100
TOKEN_ERRORS = frozenset({"40014", "42001", "88"})
RETRIABLE = frozenset({"-1", "90002", "90018", "90019"})
USER_NOT_FOUND = "60121"
TOKEN_MARGIN_S = 300
CHINA = timezone(timedelta(hours=8))  # hired_date is midnight China time, in ms


class _TokenRejected(DingTalkError):
    pass


class DingTalkContacts(ApiClient):
    """Read-only access to the legacy ``oapi`` contact APIs of one enterprise app."""

    def __init__(self, *, app_key: str, app_secret: str, oapi_base: str = DEFAULT_OAPI_BASE,
                 session: aiohttp.ClientSession | None = None, retry: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._app_key, self._app_secret = app_key, app_secret
        self._base = oapi_base.rstrip("/")
        self._init_http(session=session, retry=retry, sleep=sleep, clock=clock)

    async def roster(self) -> Roster:
        """Every member, complete, or a DingTalkError (then nothing may be deactivated)."""
        names, parents = {ROOT: ""}, {ROOT: 0}
        queue = [ROOT]
        while queue:
            dept = queue.pop(0)
            for row in await self.call("topapi/v2/department/listsub", {"dept_id": dept}) or []:
                child = int(row["dept_id"])
                if child not in names:
                    names[child], parents[child] = str(row.get("name") or child), dept
                    queue.append(child)
        members: dict[str, Member] = {}
        for dept in names:
            for row in await self._users(dept):
                if str(row["userid"]) not in members:
                    home = next((int(d) for d in row.get("dept_id_list") or () if int(d) in names),
                                dept)  # their first department, as DingTalk orders them
                    members[str(row["userid"])] = _member(row, _path(home, names, parents))
        return Roster(PLATFORM, tuple(members.values()))

    async def member(self, user_id: str) -> Member | None:
        """One member as DingTalk has them now; None when they no longer exist."""
        try:
            row = await self.call("topapi/v2/user/get", {"userid": user_id})
        except DingTalkError as exc:
            if exc.code == USER_NOT_FOUND:
                return None
            raise
        depts = row.get("dept_id_list") or []
        return _member(row, await self._path_of(int(depts[0])) if depts else "")

    async def _users(self, dept: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = await self.call("topapi/v2/user/list",
                                   {"dept_id": dept, "cursor": cursor, "size": PAGE})
            rows += page.get("list") or []
            if not page.get("has_more"):
                return rows
            cursor = int(page["next_cursor"])

    async def _path_of(self, dept: int) -> str:
        names: list[str] = []
        seen: set[int] = set()
        while dept != ROOT and dept not in seen:
            seen.add(dept)
            row = await self.call("topapi/v2/department/get", {"dept_id": dept})
            names.append(str(row.get("name") or dept))
            dept = int(row.get("parent_id") or ROOT)
        return department_path(list(reversed(names)))

    # --- transport ---------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to an oapi path; returns its ``result``."""
        for refreshed in (False, True):
            token = await self._access_token()
            try:
                data = await self._retrying("POST", path, {"access_token": token}, body)
                return data.get("result")
            except _TokenRejected:
                if refreshed:
                    raise
                log.info("dingtalk: oapi token refused; fetching a new one")
                if self._token == token:
                    self._token = None
        raise AssertionError("unreachable")

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires:
                data = await self._retrying("GET", "gettoken", {
                    "appkey": self._app_key, "appsecret": self._app_secret}, None)
                token = data.get("access_token")
                if not isinstance(token, str) or not token:
                    raise DingTalkError(ERR_BAD_RESPONSE, "no access_token", retriable=False)
                expires_in = float(data.get("expires_in", 7200))
                self._token = token
                self._token_expires = self._clock() + max(expires_in - TOKEN_MARGIN_S,
                                                          expires_in / 2)
            return self._token

    async def _retrying(self, method: str, path: str, query: dict[str, str],
                        body: dict[str, Any] | None) -> dict[str, Any]:
        for retry in range(self._retry.attempts):
            try:
                return await self._once(method, path, query, body)
            except DingTalkError as exc:
                if isinstance(exc, _TokenRejected) or not exc.retriable \
                        or retry + 1 >= self._retry.attempts:
                    raise
                delay = self._retry.delay(retry)
                log.warning("dingtalk: oapi %s failed (%s), retry in %.2fs", path, exc.code, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable: RetryPolicy.attempts must be >= 1")

    async def _once(self, method: str, path: str, query: dict[str, str],
                    body: dict[str, Any] | None) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(method, f"{self._base}/{path}", params=query,
                                             json=body, timeout=timeout) as resp:
                status = resp.status
                data = await resp.json(content_type=None) if status < 500 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # only the class name: messages may embed the URL and so the token
            raise DingTalkError(ERR_NETWORK, f"network: {type(exc).__name__}",
                                retriable=not isinstance(exc, ValueError)) from None
        return _check(status, data)


def _check(status: int, data: Any) -> dict[str, Any]:
    if status >= 500 or status == 429:
        raise DingTalkError(ERR_HTTP, f"HTTP {status}", retriable=True, http_status=status)
    if status != 200 or not isinstance(data, dict):
        raise DingTalkError(ERR_BAD_RESPONSE, f"HTTP {status}", retriable=False,
                            http_status=status)
    code = str(data.get("errcode", 0))
    if code == "0":
        return data
    message = str(data.get("errmsg", ""))
    if code in TOKEN_ERRORS:
        raise _TokenRejected(code, message, retriable=True)
    raise DingTalkError(code, message, retriable=code in RETRIABLE)


def _path(dept: int, names: dict[int, str], parents: dict[int, int]) -> str:
    chain: list[str] = []
    while dept != ROOT and dept in names:
        chain.append(names[dept])
        dept = parents[dept]
    return department_path(list(reversed(chain)))


def _member(row: dict[str, Any], department: str) -> Member:
    return Member(
        user_id=str(row["userid"]), name=str(row.get("name") or row["userid"]),
        department=department, manager_user_id=row.get("manager_userid") or None,
        hire_date=_hired(row.get("hired_date")), mobile=row.get("mobile") or None,
        email=row.get("email") or row.get("org_email") or None)


def _hired(ms: object) -> date | None:
    if not isinstance(ms, int | float) or ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(CHINA).date()
