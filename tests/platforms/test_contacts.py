"""The contact clients against loopback fakes: paging, a token expiring mid-sync, a 5xx retried,
rate-limit errors, and errors that must end a sync."""

from __future__ import annotations

from datetime import date

import pytest

from bot.platforms.base import RetryPolicy
from bot.platforms.dingtalk.contacts import DingTalkContacts
from bot.platforms.dingtalk.errors import DingTalkError
from bot.platforms.wecom.client import WeComClient, WeComError
from bot.platforms.wecom.contacts import WeComContacts
from tests.fakes.contacts import (
    DT_KEY,
    DT_SECRET,
    FakeDingTalkOapi,
    FakeWeComDirectory,
    Org,
    Person,
)
from tests.fakes.wecom_server import AGENT_ID, CORP_ID, SECRET

FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, timeout=5.0)


async def no_sleep(_s: float) -> None:
    return None


def org() -> Org:
    o = Org()
    o.dept(2, "研发中心")
    o.dept(3, "后端组", parent=2)
    o.dept(4, "市场部")
    o.people.update({
        "boss": Person("陈静", 1, mobile="13800000001"),
        "lead": Person("赵磊", 2, leader="boss", hired=date(2019, 11, 4)),
        "dev1": Person("王伟", 3, leader="lead", email="ww@example.com"),
        "dev2": Person("刘洋", 3, leader="lead"),
        "mkt": Person("孙悦", 4, leader="boss"),
        "gone": Person("离开", 4, status=5),
    })
    return o


def wecom_contacts(api: FakeWeComDirectory) -> WeComContacts:
    client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID,
                         api_base=api.base_url, retry=FAST, sleep=no_sleep)
    return WeComContacts(client)


async def test_wecom_roster_pages_and_survives_token_expiry_5xx_and_rate_limit() -> None:
    async with FakeWeComDirectory(org=org(), expire_after=4) as api:
        contacts = wecom_contacts(api)
        api.fail_next(1, status=502)  # the first call (gettoken) hits an outage
        roster = await contacts.roster()
        await contacts.close()
    people = {m.user_id: m for m in roster.members}
    assert set(people) == {"boss", "lead", "dev1", "dev2", "mkt"}  # status 5 = left
    assert people["dev1"].department == "研发中心/后端组"
    assert people["dev1"].manager_user_id == "lead" and people["dev1"].email == "ww@example.com"
    assert people["boss"].department == ""  # the company root is left out
    assert len(api.calls("user/list_id")) >= 3  # 6 rows, 2 per page
    assert len(api.calls("gettoken")) == 3  # 502 retried, then a refetch after the expiry


async def test_wecom_rate_limit_is_retried_and_a_lasting_error_raises() -> None:
    async with FakeWeComDirectory(org=org()) as api:
        contacts = wecom_contacts(api)
        await contacts.member("boss")  # token fetched
        api.fail_next(2, errcode=45009)
        assert (await contacts.member("dev2")).name == "刘洋"  # type: ignore[union-attr]
        assert await contacts.member("nobody") is None  # 60111
        api.fail_next(5, errcode=48009)  # no permission: never a silent empty roster
        with pytest.raises(WeComError):
            await contacts.roster()
        await contacts.close()


def ding_contacts(oapi: FakeDingTalkOapi) -> DingTalkContacts:
    return DingTalkContacts(app_key=DT_KEY, app_secret=DT_SECRET, oapi_base=oapi.base_url,
                            retry=FAST, sleep=no_sleep)


async def test_dingtalk_roster_walks_departments_pages_users_and_refreshes_tokens() -> None:
    o = org()
    o.people["gone"].status = 1
    o.people.update({f"extra{i}": Person(f"员工{i}", 3, leader="lead") for i in range(3)})
    async with FakeDingTalkOapi(org=o, expire_after=6) as oapi:
        contacts = ding_contacts(oapi)
        oapi.fail_next(1, status=503)
        oapi.fail_next(1, errcode=90018)  # per-second limit
        roster = await contacts.roster()
        assert (await contacts.member("lead")).department == "研发中心"  # type: ignore[union-attr]
        assert await contacts.member("nobody") is None
        await contacts.close()
    people = {m.user_id: m for m in roster.members}
    assert len(people) == 9
    assert people["extra2"].department == "研发中心/后端组"
    assert people["lead"].hire_date == date(2019, 11, 4)  # ms at midnight China time
    assert people["dev1"].manager_user_id == "lead"
    assert len([c for c in oapi.calls("topapi/v2/user/list") if c["dept_id"] == 3]) == 3
    assert len(oapi.calls("gettoken")) == 4  # 503 and 90018 retried, one refetch on expiry


async def test_dingtalk_lasting_failure_raises() -> None:
    async with FakeDingTalkOapi(org=org()) as oapi:
        contacts = ding_contacts(oapi)
        oapi.fail_next(10, status=500)
        with pytest.raises(DingTalkError):
            await contacts.roster()
        await contacts.close()
