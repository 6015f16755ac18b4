"""Loopback fakes of the WeCom and DingTalk contact APIs over one shared ``Org`` model.

``FakeWeComDirectory`` extends ``FakeWeComAPI`` (so messages still work) with
department/simplelist, department/get, user/list_id (cursor pages) and user/get.
``FakeDingTalkOapi`` serves gettoken, topapi/v2/department/listsub|get and
topapi/v2/user/list|get (cursor pages). Both record requests, can fail the next N calls with an
HTTP status or an errcode, and can invalidate every token after the Nth call (a token expiring
mid-sync).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.wecom_server import FakeWeComAPI

DT_KEY, DT_SECRET = "dingfakekey", "dingfakesecret"
CHINA = timezone(timedelta(hours=8))


@dataclass
class Person:
    name: str
    dept: int
    leader: str | None = None
    mobile: str = ""
    email: str = ""
    hired: date | None = None
    status: int = 1  # WeCom: 1 active, 2 disabled, 5 quit


@dataclass
class Org:
    depts: dict[int, tuple[str, int]] = field(default_factory=lambda: {1: ("示例公司", 0)})
    people: dict[str, Person] = field(default_factory=dict)

    def dept(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.depts[dept_id] = (name, parent)


@dataclass
class FakeWeComDirectory(FakeWeComAPI):
    org: Org = field(default_factory=Org)
    page: int = 2  # user/list_id rows per page, small to force paging
    expire_after: int | None = None  # invalidate all tokens after this many contact calls
    _contact_calls: int = 0
    _query: dict[str, str] = field(default_factory=dict)

    async def _handle(self, request: web.Request) -> web.Response:
        self._query = dict(request.query)
        tail = request.match_info["tail"]
        if tail.startswith(("user/", "department/")):
            self._contact_calls += 1
            if self.expire_after is not None and self._contact_calls == self.expire_after + 1:
                self.expire_tokens()
        return await super()._handle(request)

    def _answer(self, tail: str, body: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if tail == "department/simplelist":
            data["department_id"] = [{"id": i, "parentid": p, "order": 1}
                                     for i, (_n, p) in self.org.depts.items()]
        elif tail == "department/get":
            name, parent = self.org.depts[int(self._query["id"])]
            data["department"] = {"id": int(self._query["id"]), "name": name, "parentid": parent}
        elif tail == "user/list_id":
            return data | self._list_id(body or {})
        elif tail == "user/get":
            return self._user(self._query["userid"])
        else:
            return super()._answer(tail, body)
        return data

    def _list_id(self, body: dict[str, Any]) -> dict[str, Any]:
        rows = [{"userid": u, "department": p.dept} for u, p in self.org.people.items()]
        start = int(body.get("cursor") or 0)
        end = start + min(self.page, int(body.get("limit") or 10000))
        return {"dept_user": rows[start:end], "next_cursor": str(end) if end < len(rows) else ""}

    def _user(self, userid: str) -> dict[str, Any]:
        p = self.org.people.get(userid)
        if p is None:
            return {"errcode": 60111, "errmsg": "userid not found"}
        return {"errcode": 0, "errmsg": "ok", "userid": userid, "name": p.name,
                "department": [p.dept], "main_department": p.dept, "status": p.status,
                "direct_leader": [p.leader] if p.leader else [], "mobile": p.mobile,
                "email": p.email}


@dataclass
class FakeDingTalkOapi:
    """``async with FakeDingTalkOapi(org) as oapi:`` then use ``oapi.base_url``."""

    org: Org = field(default_factory=Org)
    page: int = 2
    expire_after: int | None = None
    app_key: str = DT_KEY
    app_secret: str = DT_SECRET
    requests: list[tuple[str, Any]] = field(default_factory=list)
    _failures: list[tuple[int, int]] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None

    async def __aenter__(self) -> FakeDingTalkOapi:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server(access_log=None)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    def fail_next(self, n: int, *, status: int = 200, errcode: int = 0) -> None:
        self._failures.extend((status, errcode) for _ in range(n))

    def calls(self, path: str) -> list[Any]:
        return [body for p, body in self.requests if p.endswith(path)]

    async def _handle(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        body = await request.json() if request.can_read_body else None
        self.requests.append((tail, body))
        if self._failures:
            status, errcode = self._failures.pop(0)
            if status != 200:
                return web.Response(status=status, text="fake outage")
            return web.json_response({"errcode": errcode, "errmsg": "fake failure"})
        if tail == "gettoken":
            return self._gettoken(request)
        if self.expire_after is not None and len(self.requests) > self.expire_after:
            self.expire_after = None
            self._tokens.clear()
        if request.query.get("access_token") not in self._tokens:
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        result = self._answer(tail, body or {})
        if isinstance(result, web.Response):
            return result
        return web.json_response({"errcode": 0, "errmsg": "ok", "result": result})

    def _gettoken(self, request: web.Request) -> web.Response:
        if (request.query.get("appkey"), request.query.get("appsecret")) != (self.app_key, self.app_secret):
            return web.json_response({"errcode": 40089, "errmsg": "invalid appkey"})
        token = f"dt-{next(self._counter)}-{secrets.token_hex(4)}"
        self._tokens.add(token)
        return web.json_response({"errcode": 0, "access_token": token, "expires_in": 7200})

    def _answer(self, tail: str, body: dict[str, Any]) -> Any:
        if tail == "topapi/v2/department/listsub":
            return [{"dept_id": i, "name": n, "parent_id": p}
                    for i, (n, p) in self.org.depts.items() if p == body["dept_id"]]
        if tail == "topapi/v2/department/get":
            name, parent = self.org.depts[int(body["dept_id"])]
            return {"dept_id": body["dept_id"], "name": name, "parent_id": parent}
        if tail == "topapi/v2/user/list":
            rows = [self._row(u, p) for u, p in self.org.people.items() if p.dept == body["dept_id"]]
            start = int(body.get("cursor") or 0)
            end = start + min(self.page, int(body["size"]))
            return {"list": rows[start:end], "has_more": end < len(rows),
                    **({"next_cursor": end} if end < len(rows) else {})}
        if tail == "topapi/v2/user/get":
            person = self.org.people.get(body["userid"])
            if person is None:
                return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})
            return self._row(body["userid"], person)
        return web.json_response({"errcode": 404, "errmsg": f"no fake for {tail}"})

    @staticmethod
    def _row(userid: str, p: Person) -> dict[str, Any]:
        row: dict[str, Any] = {"userid": userid, "name": p.name, "dept_id_list": [p.dept],
                               "mobile": p.mobile, "email": p.email, "active": True}
        if p.leader:
            row["manager_userid"] = p.leader
        if p.hired:
            midnight = datetime.combine(p.hired, time(0), tzinfo=CHINA)
            row["hired_date"] = int(midnight.timestamp() * 1000)
        return row
