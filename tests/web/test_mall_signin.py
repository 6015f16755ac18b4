"""Signing in to the mall over real HTTP: the card's one-time link, WeCom OAuth (snsapi_base)
and DingTalk 免登, each end to end against a loopback fake of the platform, with bad, expired
and replayed codes, a wrong state, and strangers who are not in the directory."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import DB_KEY, POLICY_KEY, build
from bot.app.demo import load_demo
from core.models import utcnow
from tests.conftest import _reset_postgres
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk
from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComAPI
from tests.web.conftest import EMPLOYEE, Console, console_settings, link_for

_STATE = re.compile(r'name="state" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(db_url: str, aiohttp_server: Any, aiohttp_client: Any,
                 **extra: object) -> TestClient:  # type: ignore[type-arg]
    """The real app on a known port, so its public URL (the OAuth redirect_uri) is right."""
    port = _free_port()
    app = await build(console_settings(db_url, public_url=f"http://127.0.0.1:{port}", **extra),
                      background=False)
    if not app[DB_KEY].is_sqlite:
        await _reset_postgres(app[DB_KEY])
    await load_demo(app[DB_KEY], app[POLICY_KEY], now=utcnow())
    server = await aiohttp_server(app, port=port)
    return await aiohttp_client(server)


@dataclass
class WeComMall:
    client: TestClient  # type: ignore[type-arg]
    api: FakeWeComAPI


@pytest.fixture
async def wecom_mall(db_url: str, aiohttp_server, aiohttp_client) -> AsyncIterator[WeComMall]:  # type: ignore[no-untyped-def]
    async with FakeWeComAPI() as api:
        client = await _serve(db_url, aiohttp_server, aiohttp_client, wecom_corp_id=CORP_ID,
                              wecom_agent_id=str(AGENT_ID), wecom_secret=SECRET, wecom_token=TOKEN,
                              wecom_aes_key=AES_KEY, wecom_api_base=api.base_url,
                              wecom_oauth_base=api.oauth_base)
        yield WeComMall(client, api)


async def test_a_card_link_opens_the_mall_once_for_thirty_days(console: Console) -> None:
    link = await link_for(console.app, EMPLOYEE, purpose="mall")
    assert link.startswith("/m/login?token=")
    first = await console.client.get(link, allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == "/m"
    assert f"Max-Age={30 * 24 * 3600}" in first.headers["Set-Cookie"]
    home = await console.client.get("/m")
    assert home.status == 200 and "王伟" in await home.text()
    assert (await console.client.get("/admin", allow_redirects=False)).status == 401  # not HR
    again = await console.client.get(link, allow_redirects=False)
    assert again.status == 410


async def test_without_a_session_the_mall_says_how_to_get_in(console: Console) -> None:
    plain = await console.client.get("/m", allow_redirects=False)
    assert plain.status == 401 and "打开商城" in await plain.text()
    for agent, target in (("Mozilla/5.0 wxwork/4.1.0 MicroMessenger/7.0.1", "/m/auth/wecom"),
                          ("Mozilla/5.0 AliApp(DingTalk/7.0.50)", "/m/auth/dingtalk")):
        inside = await console.client.get("/m/catalog", headers={"User-Agent": agent},
                                          allow_redirects=False)
        assert inside.status == 303 and inside.headers["Location"] == target
    off = await console.client.get("/m/auth/wecom", allow_redirects=False)
    assert off.status == 404 and "没有启用" in await off.text()  # WeCom is not configured here


async def test_wecom_oauth_signs_a_member_in(wecom_mall: WeComMall) -> None:
    client, api = wecom_mall.client, wecom_mall.api
    api.oauth_user = "wangwei"
    start = await client.get("/m/auth/wecom", allow_redirects=False)
    assert start.status == 302
    location = start.headers["Location"]
    assert location.startswith(f"{api.oauth_base}/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect") and "scope=snsapi_base" in location
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in location
    home = await client.get("/m/auth/wecom")  # the whole round trip, redirects followed
    assert home.status == 200 and str(home.url).endswith("/m")
    assert "王伟" in await home.text()
    exchange = api.calls("auth/getuserinfo")
    assert len(exchange) == 1 and exchange[0].method == "GET" and exchange[0].query["code"]


async def _code_and_state(wm: WeComMall) -> tuple[str, str]:
    """Up to WeCom's redirect back: the code and state it carries (nothing exchanged yet)."""
    start = await wm.client.get("/m/auth/wecom", allow_redirects=False)
    async with aiohttp.ClientSession() as other, other.get(
            start.headers["Location"].split("#")[0], allow_redirects=False) as back:
        query = parse_qs(urlsplit(back.headers["Location"]).query)
    return query["code"][0], query["state"][0]


async def test_wecom_bad_expired_and_replayed_codes_are_refused(wecom_mall: WeComMall) -> None:
    client, api = wecom_mall.client, wecom_mall.api
    api.oauth_user = "wangwei"
    _, state = await _code_and_state(wecom_mall)
    forged = await client.get(f"/m/auth/wecom?code=forged&state={state}", allow_redirects=False)
    assert forged.status == 400 and "登录码无效" in await forged.text()

    code, state = await _code_and_state(wecom_mall)
    api.expire_codes()
    expired = await client.get(f"/m/auth/wecom?code={code}&state={state}", allow_redirects=False)
    assert expired.status == 400

    code, state = await _code_and_state(wecom_mall)
    wrong_state = await client.get(f"/m/auth/wecom?code={code}&state=other", allow_redirects=False)
    assert wrong_state.status == 400 and "jifen_session" not in wrong_state.headers.get("Set-Cookie", "")
    used = await client.get(f"/m/auth/wecom?code={code}&state={state}", allow_redirects=False)
    assert used.status == 303  # the code itself was still good
    _, state = await _code_and_state(wecom_mall)  # a sign-in ends its state: a fresh one
    replay = await client.get(f"/m/auth/wecom?code={code}&state={state}", allow_redirects=False)
    assert replay.status == 400
    body = await replay.text()
    assert "Traceback" not in body and "40029" not in body


@pytest.mark.parametrize("who", ["nobody", "ext:wm-outsider"])
async def test_wecom_strangers_see_not_enrolled(wecom_mall: WeComMall, who: str) -> None:
    wecom_mall.api.oauth_user = who
    page = await wecom_mall.client.get("/m/auth/wecom")
    assert page.status == 403
    body = await page.text()
    assert "你还没有加入积分系统" in body and "请联系 HR" in body
    assert (await wecom_mall.client.get("/m", allow_redirects=False)).status == 401


@dataclass
class DingTalkMall:
    client: TestClient  # type: ignore[type-arg]
    dt: FakeDingTalk


@pytest.fixture
async def dingtalk_mall(db_url: str, aiohttp_server, aiohttp_client) -> AsyncIterator[DingTalkMall]:  # type: ignore[no-untyped-def]
    with FakeDingTalk() as dt:
        client = await _serve(db_url, aiohttp_server, aiohttp_client,
                              dingtalk_client_id=CLIENT_ID, dingtalk_client_secret=CLIENT_SECRET,
                              dingtalk_mode="http", dingtalk_api_base=dt.base_url,
                              dingtalk_oapi_base=dt.base_url, dingtalk_corp_id="dingcorp1")
        yield DingTalkMall(client, dt)


async def _dingtalk_state(dm: DingTalkMall) -> str:
    page = await dm.client.get("/m/auth/dingtalk")
    assert page.status == 200
    found = _STATE.search(await page.text())
    assert found
    return found[1]


async def test_dingtalk_page_uses_the_vendored_jsapi(dingtalk_mall: DingTalkMall) -> None:
    page = await dingtalk_mall.client.get("/m/auth/dingtalk?corpId=dingXYZ")
    html = await page.text()
    assert 'data-corp-id="dingXYZ"' in html
    src = re.search(r'src="(/static/vendor/dingtalk-jsapi-[^"]+)"', html)
    assert src, "the DingTalk JSAPI comes from jifen itself, not a CDN"
    script = await dingtalk_mall.client.get(src[1])
    assert script.status == 200 and "requestAuthCode" in await script.text()
    assert "dingcorp1" in await (await dingtalk_mall.client.get("/m/auth/dingtalk")).text()


async def test_dingtalk_mianden_signs_a_member_in(dingtalk_mall: DingTalkMall) -> None:
    client, dt = dingtalk_mall.client, dingtalk_mall.dt
    state = await _dingtalk_state(dingtalk_mall)
    home = await client.post("/m/auth/dingtalk", data={"code": dt.auth_code("dt_wangwei"),
                                                        "state": state})
    assert home.status == 200 and str(home.url).endswith("/m")
    assert "王伟" in await home.text()
    exchange = dt.calls("/topapi/v2/user/getuserinfo")
    assert len(exchange) == 1 and exchange[0].query["access_token"].startswith("oapi-")
    dt.expire_tokens()  # DingTalk dropped the cached token: fetched again, the sign-in works
    state = await _dingtalk_state(dingtalk_mall)
    again = await client.post("/m/auth/dingtalk", data={"code": dt.auth_code("dt_liuyang"),
                                                         "state": state}, allow_redirects=False)
    assert again.status == 303 and len(dt.calls("/gettoken")) == 2


async def test_dingtalk_bad_expired_replayed_and_strangers(dingtalk_mall: DingTalkMall) -> None:
    client, dt = dingtalk_mall.client, dingtalk_mall.dt
    state = await _dingtalk_state(dingtalk_mall)
    bad = await client.post("/m/auth/dingtalk", data={"code": "forged", "state": state},
                            allow_redirects=False)
    assert bad.status == 400 and "登录码无效" in await bad.text()
    code = dt.auth_code("dt_wangwei")
    dt.expire_auth_codes()
    expired = await client.post("/m/auth/dingtalk", data={"code": code, "state": state},
                                allow_redirects=False)
    assert expired.status == 400
    code = dt.auth_code("dt_wangwei")
    no_state = await client.post("/m/auth/dingtalk", data={"code": code, "state": "x"},
                                 allow_redirects=False)
    assert no_state.status == 400
    assert (await client.post("/m/auth/dingtalk", data={"code": code, "state": state},
                              allow_redirects=False)).status == 303
    state = await _dingtalk_state(dingtalk_mall)
    replay = await client.post("/m/auth/dingtalk", data={"code": code, "state": state},
                               allow_redirects=False)
    assert replay.status == 400  # (a sign-in also ends the state: a fresh page for the next)
    state = await _dingtalk_state(dingtalk_mall)
    stranger = await client.post("/m/auth/dingtalk",
                                 data={"code": dt.auth_code("dt_nobody"), "state": state},
                                 allow_redirects=False)
    assert stranger.status == 403 and "你还没有加入积分系统" in await stranger.text()
