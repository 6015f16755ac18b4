"""Reading the WeCom address book for the directory sync (SPEC section 12).

What we rely on (WeCom docs 通讯录管理, checked 2026-12):
* ``department/simplelist`` (获取子部门ID列表, GET) answers ``department_id: [{id, parentid,
  order}]`` — ids only. Since 2022-08 newer corps may no longer call ``department/list`` /
  ``user/list`` (名称等字段不再返回), so names come from ``department/get?id=`` (获取单个部门详情),
  fetched only for departments somebody is in, once per run.
* ``user/list_id`` (获取成员ID列表, POST ``{cursor, limit ≤ 10000}``) pages with ``next_cursor``
  (empty = done) and returns ``dept_user: [{userid, department}]``, a row per membership.
* ``user/get?userid=`` returns ``name, department, main_department, direct_leader[], mobile,
  email, biz_mail, status`` — mobile and e-mail are empty unless the secret may read them
  (成员敏感信息 and a 企业可信IP since 2022-06); hire dates do not exist on WeCom.
* The 通讯录同步 secret (``JIFEN_WECOM_CONTACT_SECRET``) sees the whole company; an app secret
  only the app's 可见范围. 60111 = the userid no longer exists (left between list and get).
* Limits: per corp 10,000 calls/min to one API; the client retries 45009 (too frequent) and -1
  (busy) with backoff, and refreshes a token that expires mid-run (40014/42001) once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.platforms.wecom.client import WeComClient, WeComError
from core.directory.changes import Member, Roster
from core.directory.sync import department_path

log = logging.getLogger("jifen.wecom")

PLATFORM = "wecom"
PAGE = 10000  # user/list_id's maximum page size
CONCURRENCY = 8  # user/get calls in flight: far below 10,000/min, quick for a few thousand
USER_NOT_FOUND = 60111
GONE_STATUSES = frozenset({2, 5})  # 2 disabled (禁用), 5 quit (退出企业): leavers for us


@dataclass
class _Departments:
    """The department tree of one run; names fetched lazily and kept for the run."""

    parent: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


class WeComContacts:
    """Read-only address book access on one ``WeComClient`` (contact secret or app secret)."""

    def __init__(self, client: WeComClient, *, concurrency: int = CONCURRENCY) -> None:
        self._client = client
        self._limit = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self._client.close()

    async def roster(self) -> Roster:
        """Every member, complete, or a WeComError (then nothing may be deactivated)."""
        depts = await self._tree()
        user_ids = await self._user_ids()
        details = await asyncio.gather(*(self._get(uid) for uid in user_ids))
        members = [await self._member(d, depts) for d in details if d is not None]
        return Roster(PLATFORM, tuple(members))

    async def member(self, user_id: str) -> Member | None:
        """One member as WeCom has them now; None if they no longer exist or are disabled."""
        data = await self._get(user_id)
        if data is None:
            return None
        return await self._member(data, await self._tree())

    async def _tree(self) -> _Departments:
        data = await self._client.call("department/simplelist", params={})
        depts = _Departments()
        for row in data.get("department_id") or ():
            depts.parent[int(row["id"])] = int(row.get("parentid") or 0)
        return depts

    async def _user_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        cursor = ""
        while True:
            body: dict[str, Any] = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            data = await self._client.call("user/list_id", body)
            for row in data.get("dept_user") or ():
                seen.setdefault(str(row.get("userid") or row.get("open_userid")), None)
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return [uid for uid in seen if uid and uid != "None"]

    async def _get(self, user_id: str) -> dict[str, Any] | None:
        async with self._limit:
            try:
                data = await self._client.call("user/get", params={"userid": user_id})
            except WeComError as exc:
                if exc.errcode == USER_NOT_FOUND:
                    return None
                raise
        return None if int(data.get("status") or 1) in GONE_STATUSES else data

    async def _member(self, data: dict[str, Any], depts: _Departments) -> Member:
        leaders = data.get("direct_leader") or []
        main = data.get("main_department") or next(iter(data.get("department") or []), None)
        return Member(
            user_id=str(data["userid"]), name=str(data.get("name") or data["userid"]),
            department=await self._path(int(main), depts) if main else "",
            manager_user_id=str(leaders[0]) if leaders else None,
            mobile=data.get("mobile") or None,
            email=data.get("email") or data.get("biz_mail") or None)

    async def _path(self, dept_id: int, depts: _Departments) -> str:
        chain: list[int] = []
        node = dept_id
        while node in depts.parent and depts.parent[node] != 0 and node not in chain:
            chain.append(node)  # the root (parentid 0) is the company itself: left out
            node = depts.parent[node]
        return department_path([await self._name(d, depts) for d in reversed(chain)])

    async def _name(self, dept_id: int, depts: _Departments) -> str:
        if dept_id not in depts.names:
            data = await self._client.call("department/get", params={"id": str(dept_id)})
            # Without permission to names WeCom answers the id in place of the name.
            depts.names[dept_id] = str((data.get("department") or {}).get("name") or dept_id)
        return depts.names[dept_id]

