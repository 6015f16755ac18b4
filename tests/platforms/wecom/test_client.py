"""The async WeCom client against the loopback fake API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.platforms.wecom import client_from_settings, crypto_from_settings
from bot.platforms.wecom.client import ERR_HTTP, RetryPolicy, WeComClient, WeComError
from config.settings import Settings
from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComAPI


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def api() -> AsyncIterator[FakeWeComAPI]:
    async with FakeWeComAPI() as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(api: FakeWeComAPI, sleeps: Sleeps) -> AsyncIterator[WeComClient]:
    policy = RetryPolicy(attempts=3, base_delay=0.5, timeout=2)
    async with WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                           api_base=api.base_url, retry=policy, sleep=sleeps) as c:
        yield c


async def test_token_cached_across_sends(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.send_text("zhangsan", "hi")
    await client.send_markdown(["zhangsan", "lisi"], "**hi**")
    await client.appchat_send("chat1", "text", "hello group")
    assert len(api.calls("gettoken")) == 1
    token = api.calls("gettoken")[0]
    assert token.query == {"corpid": CORP_ID, "corpsecret": SECRET}
    sends = api.calls("message/send")
    assert sends[0].json == {"touser": "zhangsan", "agentid": AGENT_ID, "msgtype": "text",
                             "text": {"content": "hi"}}
    assert sends[1].json["touser"] == "zhangsan|lisi"
    assert sends[1].json["markdown"] == {"content": "**hi**"}
    assert api.calls("appchat/send")[0].json == {"chatid": "chat1", "msgtype": "text",
                                                 "text": {"content": "hello group"}, "safe": 0}


async def test_template_card_send_and_update(client: WeComClient, api: FakeWeComAPI) -> None:
    card = {"card_type": "button_interaction", "task_id": "task_1",
            "main_title": {"title": "Approve?"},
            "button_list": [{"text": "同意", "style": 1, "key": "approve:A1"}]}
    resp = await client.send_template_card("zhangsan", card)
    assert resp["response_code"].startswith("rc-")
    assert api.calls("message/send")[0].json["template_card"] == card
    await client.update_template_card(["zhangsan"], resp["response_code"], {**card, "x": 1})
    await client.update_template_button(["zhangsan"], "RC2", "已处理")
    full, button = api.calls("message/update_template_card")
    assert full.json == {"userids": ["zhangsan"], "agentid": AGENT_ID,
                         "response_code": resp["response_code"], "template_card": {**card, "x": 1}}
    assert button.json["button"] == {"replace_name": "已处理"}
    assert "template_card" not in button.json


async def test_refresh_on_expired_token(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.send_text("u", "one")
    api.expire_tokens()
    await client.send_text("u", "two")
    assert len(api.calls("gettoken")) == 2
    first, rejected, retried = api.calls("message/send")
    assert rejected.query["access_token"] == first.query["access_token"]
    assert retried.query["access_token"] != first.query["access_token"]
    assert retried.json["text"] == {"content": "two"}


async def test_refresh_only_once(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.send_text("u", "warm up")
    api.fail_next(2, errcode=42001)
    with pytest.raises(WeComError) as info:
        await client.send_text("u", "x")
    assert info.value.errcode == 42001
    assert len(api.calls("gettoken")) == 2  # bounded, unlike wechatpy (§3.11)


async def test_retry_on_http_500_then_success(client: WeComClient, api: FakeWeComAPI,
                                              sleeps: Sleeps) -> None:
    await client.access_token()
    api.fail_next(2, status=500)
    resp = await client.send_text("u", "hi")
    assert resp["errcode"] == 0
    assert len(api.calls("message/send")) == 3
    assert len(sleeps.delays) == 2 and sleeps.delays[1] > sleeps.delays[0] * 0.9


async def test_gives_up_after_retry_budget(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.access_token()
    api.fail_next(10, status=503)
    with pytest.raises(WeComError) as info:
        await client.send_text("u", "hi")
    assert (info.value.errcode, info.value.http_status, info.value.retriable) == (ERR_HTTP, 503,
                                                                                   True)
    assert len(api.calls("message/send")) == 3


async def test_rate_limit_45009_retried(client: WeComClient, api: FakeWeComAPI,
                                        sleeps: Sleeps) -> None:
    await client.access_token()
    api.fail_next(1, errcode=45009)
    assert (await client.send_text("u", "hi"))["errcode"] == 0
    assert len(api.calls("message/send")) == 2 and len(sleeps.delays) == 1


async def test_non_retriable_errcode_fails_at_once(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.access_token()
    api.fail_next(1, errcode=81013)  # all recipients invalid (§3.7)
    with pytest.raises(WeComError) as info:
        await client.send_text("nobody", "hi")
    assert (info.value.errcode, info.value.retriable) == (81013, False)
    assert len(api.calls("message/send")) == 1


async def test_bad_secret_is_not_retried(api: FakeWeComAPI) -> None:
    async with WeComClient(corp_id=CORP_ID, secret="wrong", agent_id=AGENT_ID,
                           api_base=api.base_url) as c:
        with pytest.raises(WeComError) as info:
            await c.send_text("u", "hi")
    assert info.value.errcode == 40001 and len(api.requests) == 1


async def test_network_error_is_retriable(sleeps: Sleeps) -> None:
    async with FakeWeComAPI() as gone:
        base = gone.base_url
    policy = RetryPolicy(attempts=2, timeout=1)
    async with WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=1, api_base=base,
                           retry=policy, sleep=sleeps) as c:
        with pytest.raises(WeComError) as info:
            await c.send_text("u", "hi")
    assert info.value.retriable and len(sleeps.delays) == 1


async def test_webhook_send_uses_full_url_without_token(client: WeComClient,
                                                        api: FakeWeComAPI) -> None:
    body = {"msgtype": "markdown", "markdown": {"content": "本月兑换 8 折"}}
    await client.webhook_send(api.webhook_url(), body)
    (call,) = api.calls("webhook/send")
    assert call.query == {"key": "robot-key-1"} and call.json == body
    assert api.calls("gettoken") == []


async def test_every_call_honours_the_base_url(client: WeComClient, api: FakeWeComAPI) -> None:
    await client.send_text("u", "a")
    await client.send_template_card("u", {"card_type": "button_interaction"})
    await client.update_template_card(["u"], "rc", {"card_type": "button_interaction"})
    await client.appchat_send("c", "markdown", {"content": "m"})
    await client.webhook_send(api.webhook_url(), {"msgtype": "text", "text": {"content": "w"}})
    assert [r.path for r in api.requests] == [
        "/cgi-bin/gettoken", "/cgi-bin/message/send", "/cgi-bin/message/send",
        "/cgi-bin/message/update_template_card", "/cgi-bin/appchat/send", "/cgi-bin/webhook/send",
    ]


async def test_secrets_never_logged(client: WeComClient, api: FakeWeComAPI,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.send_text("u", "hi")
    api.fail_next(1, status=500)
    api.expire_tokens()
    await client.send_text("u", "hi")
    await client.webhook_send(api.webhook_url(), {"msgtype": "text", "text": {"content": "w"}})
    tokens = [r.query["access_token"] for r in api.calls("message/send")]
    for secret in [SECRET, "robot-key-1", *tokens]:
        assert secret not in caplog.text


async def test_client_from_settings_honours_api_base(api: FakeWeComAPI) -> None:
    settings = Settings(wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
                        wecom_secret=SecretStr(SECRET), wecom_token=SecretStr(TOKEN),
                        wecom_aes_key=SecretStr(AES_KEY), wecom_api_base=api.base_url)
    crypto_from_settings(settings)
    async with client_from_settings(settings) as c:
        await c.send_text("u", "hi")
    assert [r.path for r in api.requests] == ["/cgi-bin/gettoken", "/cgi-bin/message/send"]
