"""Real-time contact changes end to end: encrypted WeCom change_contact callbacks over HTTP and
DingTalk contact events as Stream EVENT frames through the real SDK, each applied once even when
redelivered, against loopback fakes of the contact APIs. ``jifen ledger verify`` stays green."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import DB_KEY, POLICY_KEY, build
from bot.assembly import STREAM_KEY, WORKER_KEY
from bot.demo import load_demo
from bot.platforms.dingtalk.stream import Backoff
from bot.platforms.wecom.transport import TASKS_KEY
from config.settings import Settings
from core.db import Database
from core.ledger.verify import verify
from core.models import Employee, utcnow
from tests.conftest import ROOT, _reset_postgres
from tests.e2e.test_dingtalk_flow import until
from tests.fakes.contacts import FakeDingTalkOapi, FakeWeComDirectory, Org, Person
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk
from tests.fakes.wecom_server import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    WeComCallbackSender,
    text_xml,
)

DEPTS = {2: "总经办", 3: "人力资源部", 4: "研发部", 5: "市场部", 6: "销售部"}


def demo_org(prefix: str = "") -> Org:
    """The demo directory as the platform holds it (ids with the platform's prefix)."""
    org = Org()
    for dept_id, name in DEPTS.items():
        org.dept(dept_id, name)
    by_name = {v: k for k, v in DEPTS.items()}
    ids = {}
    rows = (ROOT / "config" / "demo" / "directory.csv").read_text(encoding="utf-8").splitlines()[1:]
    for row in rows:
        cells = row.split(",")
        ids[cells[0]] = cells[5] if not prefix else cells[6]
    for row in rows:
        c = row.split(",")
        org.people[ids[c[0]]] = Person(c[1], by_name[c[2]], ids.get(c[3]), mobile=c[10],
                                       email=c[11])
    return org


def change_xml(change: str, user: str, created: int, **extra: str) -> str:
    more = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in extra.items())
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            "<FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_contact]]></Event>"
            f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[{user}]]></UserID>"
            f"{more}</xml>")


async def employee(db: Database, **where: str) -> Employee | None:
    async with db.uow() as s:
        return await s.scalar(select(Employee).filter_by(**where))


async def count(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(Employee)) or 0)


@pytest.fixture
async def wecom_sync(db_url: str, aiohttp_client) -> AsyncIterator[tuple[Any, Any, FakeWeComDirectory]]:  # type: ignore[no-untyped-def]
    async with FakeWeComDirectory(org=demo_org()) as api:
        settings = Settings(
            database_url=db_url, wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
            wecom_secret=SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY,  # type: ignore[arg-type]
            wecom_api_base=api.base_url, directory_sync="wecom", _env_file=None)  # type: ignore[call-arg]
        app = await build(settings, background=False)
        if not app[DB_KEY].is_sqlite:
            await _reset_postgres(app[DB_KEY])
        await load_demo(app[DB_KEY], app[POLICY_KEY], now=utcnow())
        client = await aiohttp_client(app)
        yield app, client, api


async def test_wecom_change_contact_events(wecom_sync) -> None:  # type: ignore[no-untyped-def]
    app, client, api = wecom_sync
    db: Database = app[DB_KEY]
    sender = WeComCallbackSender()

    async def post(xml: str) -> None:
        req = sender.message(xml)
        resp = await client.post(f"/wecom/callback?{req.query_string}", data=req.body)
        assert resp.status == 200
        await until(lambda: not app[TASKS_KEY])

    api.org.people["newbie"] = Person("新人", 4, leader="wangwei", mobile="13900000001")
    before = await count(db)
    await post(change_xml("create_user", "newbie", 1700000001, Department="4"))
    reads = len(api.calls("user/get"))
    await post(change_xml("create_user", "newbie", 1700000001, Department="4"))  # redelivered
    assert len(api.calls("user/get")) == reads  # recognised before anything was read again
    new = await employee(db, wecom_userid="newbie")
    assert new is not None and (new.department, new.manager_id) == ("研发部", "E004")
    assert await count(db) == before + 1

    api.org.people["newbie2"] = api.org.people.pop("newbie")  # a generated userid changed once
    await post(change_xml("update_user", "newbie", 1700000009, NewUserID="newbie2"))
    assert (await employee(db, wecom_userid="newbie2")).employee_id == new.employee_id  # type: ignore[union-attr]

    api.org.people["wangwei"].dept, api.org.people["wangwei"].leader = 5, "sunyue"
    await post(change_xml("update_user", "wangwei", 1700000002))
    moved = await employee(db, employee_id="E004")
    assert (moved.department, moved.manager_id) == ("市场部", "E007")  # type: ignore[union-attr]

    del api.org.people["liuyang"]
    await post(change_xml("delete_user", "liuyang", 1700000003))
    assert not (await employee(db, employee_id="E006")).active  # type: ignore[union-attr]
    api.org.people["liuyang"] = Person("刘洋", 4, leader="zhaolei")
    await post(change_xml("create_user", "liuyang", 1700000004))  # rejoins: same account
    assert (await employee(db, employee_id="E006")).active  # type: ignore[union-attr]

    api.org.dept(4, "研发中心")  # a department renamed: everybody's path follows
    await post("<xml><ToUserName><![CDATA[c]]></ToUserName><FromUserName><![CDATA[sys]]>"
               "</FromUserName><CreateTime>1700000005</CreateTime><MsgType><![CDATA[event]]>"
               "</MsgType><Event><![CDATA[change_contact]]></Event><ChangeType><![CDATA["
               "update_party]]></ChangeType><Id>4</Id><Name><![CDATA[研发中心]]></Name></xml>")
    assert (await employee(db, employee_id="E006")).department == "研发中心"  # type: ignore[union-attr]

    # an approval waiting on a leaver moves to the leaver's manager, who gets the card
    await post(text_xml(user="liuyang", content="申请 20 周末加班支援上线", msg_id="m-apply"))
    del api.org.people["zhaolei"]
    await post(change_xml("delete_user", "zhaolei", 1700000006))
    while await app[WORKER_KEY].run_once():
        pass
    cards = [r.json for r in api.calls("message/send")
             if r.json["touser"] == "chenjing" and r.json["msgtype"] == "template_card"]
    assert cards and "已离职" in json.dumps(cards, ensure_ascii=False)
    async with db.uow() as s:
        assert await verify(s) == []


def event_frame(event_type: str, event_id: str, message_id: str, **data: Any) -> dict[str, Any]:
    now = str(int(time.time() * 1000))
    return {"specVersion": "1.0", "type": "EVENT",
            "headers": {"appId": "app", "connectionId": "conn", "contentType": "application/json",
                        "messageId": message_id, "time": now, "topic": "*",
                        "eventType": event_type, "eventId": event_id, "eventCorpId": "dingcorp",
                        "eventBornTime": now, "eventUnifiedAppId": "app"},
            "data": json.dumps({"eventId": event_id, "corpId": "dingcorp", **data})}


async def test_dingtalk_contact_events_over_stream(db_url: str, tmp_path: Path) -> None:
    org = demo_org(prefix="dt")
    with FakeDingTalk() as dt:
        async with FakeDingTalkOapi(org=org, app_key=CLIENT_ID, app_secret=CLIENT_SECRET) as oapi:
            settings = Settings(
                database_url=db_url, dingtalk_client_id=CLIENT_ID,
                dingtalk_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
                dingtalk_api_base=dt.base_url, dingtalk_oapi_base=oapi.base_url,
                directory_sync="dingtalk", _env_file=None)  # type: ignore[call-arg]
            app = await build(settings, background=False)
            db: Database = app[DB_KEY]
            if not db.is_sqlite:
                await _reset_postgres(db)
            await load_demo(db, app[POLICY_KEY], now=utcnow())
            stream = app[STREAM_KEY]
            stream._backoff = Backoff(first=0.05, maximum=0.2, healthy_after=30)
            await stream.start()
            try:
                await until(lambda: dt.connected == 1 and stream.connected)
                assert {"type": "EVENT", "topic": "*"} in dt.opens[-1]["subscriptions"]
                await _dingtalk_events(dt, oapi, db, org)
            finally:
                await stream.stop()


async def _dingtalk_events(dt: FakeDingTalk, oapi: FakeDingTalkOapi, db: Database,
                           org: Org) -> None:
    async def push(frame: dict[str, Any]) -> None:
        dt.push(frame)
        mid = frame["headers"]["messageId"]
        await until(lambda: any(a.get("headers", {}).get("messageId") == mid for a in dt.acks))

    org.people["dt_new"] = Person("钉新人", 4, leader="dt_wangwei", hired=date(2026, 3, 1))
    await push(event_frame("user_add_org", "ev-1", "m1", userId=["dt_new"]))
    reads = len(oapi.calls("topapi/v2/user/get"))
    await push(event_frame("user_add_org", "ev-1", "m2", userId=["dt_new"]))  # redelivered
    assert len(oapi.calls("topapi/v2/user/get")) == reads
    new = await employee(db, dingtalk_userid="dt_new")
    assert new is not None and new.hire_date == date(2026, 3, 1) and new.manager_id == "E004"
    org.people["dt_wangwei"].leader = "dt_chenjing"
    await push(event_frame("user_modify_org", "ev-2", "m3", userId=["dt_wangwei"]))
    assert (await employee(db, employee_id="E004")).manager_id == "E001"  # type: ignore[union-attr]
    del org.people["dt_liuyang"]
    await push(event_frame("user_leave_org", "ev-3", "m4", userId=["dt_liuyang"]))
    assert not (await employee(db, employee_id="E006")).active  # type: ignore[union-attr]
    async with db.uow() as s:
        assert await verify(s) == []
