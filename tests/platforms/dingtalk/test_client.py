"""The async OpenAPI client against the loopback fake DingTalk."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from bot.platforms.dingtalk import client_from_settings
from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.errors import (
    ERR_NETWORK,
    ERR_SESSION_EXPIRED,
    DingTalkError,
    RetryPolicy,
)
from config.settings import Settings
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, ROBOT_SECRET, FakeDingTalk
from tests.platforms.dingtalk.conftest import Sleeps


async def test_token_cached_and_sent_as_header(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.batch_send(["u1"], "sampleText", {"content": "hi"})
    await client.group_send("cid1", "sampleMarkdown", {"title": "t", "text": "x"})
    await client.update_card("trk", {"a": "b"})
    [token_call] = dt.calls("/oauth2/accessToken")
    assert token_call.json == {"appKey": CLIENT_ID, "appSecret": CLIENT_SECRET}
    tokens = {r.token for r in dt.requests if r.path != "/v1.0/oauth2/accessToken"}
    assert tokens == {"tok-1"}


async def test_batch_send_splits_by_20_with_json_string_param(client: DingTalkClient,
                                                             dt: FakeDingTalk) -> None:
    users = [f"u{i}" for i in range(45)]
    result = await client.batch_send(users, "sampleMarkdown", {"title": "标题", "text": "**hi**"})
    calls = dt.calls("/robot/oToMessages/batchSend")
    assert [len(c.json["userIds"]) for c in calls] == [20, 20, 5]
    assert [u for c in calls for u in c.json["userIds"]] == users
    for c in calls:
        assert c.json["robotCode"] == "robot-1" and c.json["msgKey"] == "sampleMarkdown"
        assert isinstance(c.json["msgParam"], str)
        assert json.loads(c.json["msgParam"]) == {"title": "标题", "text": "**hi**"}
    assert len(result.process_query_keys) == 3


async def test_flow_controlled_and_invalid_users_are_reported(client: DingTalkClient,
                                                              dt: FakeDingTalk) -> None:
    dt.flow_controlled.add("u21")
    dt.invalid_users.add("u2")
    result = await client.batch_send([f"u{i}" for i in range(25)], "sampleText", {"content": "x"})
    assert result.flow_controlled == ("u21",)
    assert result.invalid == ("u2",)


async def test_group_send_body(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.group_send("cidGroup==", "sampleMarkdown", {"title": "t", "text": "x"})
    [call] = dt.calls("/robot/groupMessages/send")
    assert call.json == {"robotCode": "robot-1", "openConversationId": "cidGroup==",
                         "msgKey": "sampleMarkdown", "msgParam": '{"title": "t", "text": "x"}'}


async def test_expired_token_is_refetched_once(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.group_send("cid", "sampleText", {"content": "1"})
    dt.expire_tokens()
    await client.group_send("cid", "sampleText", {"content": "2"})
    assert len(dt.calls("/oauth2/accessToken")) == 2
    tokens = [r.token for r in dt.calls("/groupMessages/send")]
    assert tokens[0] == tokens[1] == "tok-1" and tokens[2] not in (None, "tok-1")


async def test_5xx_and_throttling_are_retried_with_backoff(client: DingTalkClient,
                                                          dt: FakeDingTalk, sleeps: Sleeps) -> None:
    await client.access_token()
    dt.fail_next(1, status=503)
    dt.fail_next(1, status=400, body={"code": "Throttling.Api", "message": "slow down"})
    await client.group_send("cid", "sampleText", {"content": "x"})
    assert len(dt.calls("/groupMessages/send")) == 3
    assert len(sleeps.delays) == 2 and sleeps.delays[1] > sleeps.delays[0] * 0.4


async def test_retries_are_bounded(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.access_token()
    dt.fail_next(10, status=502)
    with pytest.raises(DingTalkError) as err:
        await client.group_send("cid", "sampleText", {"content": "x"})
    assert err.value.retriable and err.value.http_status == 502
    assert len(dt.calls("/groupMessages/send")) == 3


async def test_client_errors_are_not_retried(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.access_token()
    dt.fail_next(1, status=400, body={"code": "param.invalid", "message": "bad robotCode"})
    with pytest.raises(DingTalkError) as err:
        await client.group_send("cid", "sampleText", {"content": "x"})
    assert not err.value.retriable and err.value.code == "param.invalid"
    assert len(dt.calls("/groupMessages/send")) == 1


async def test_network_errors_are_retriable(sleeps: Sleeps) -> None:
    with FakeDingTalk() as gone:
        base = gone.base_url
    async with DingTalkClient(app_key="k", app_secret="s", api_base=base, sleep=sleeps,
                              retry=RetryPolicy(attempts=2, timeout=1)) as c:
        with pytest.raises(DingTalkError) as err:
            await c.access_token()
    assert err.value.code == ERR_NETWORK and err.value.retriable
    assert len(sleeps.delays) == 1


async def test_card_create_1to1_and_group_bodies(client: DingTalkClient, dt: FakeDingTalk) -> None:
    params = {"title": "审批", "buttonCount": 2, "decided": False, "buttons": [{"a": 1}]}
    await client.create_and_deliver_card(template_id="tpl.schema", out_track_id="trk-1",
                                         card_param_map=params, user_id="manager1")
    await client.create_and_deliver_card(template_id="tpl.schema", out_track_id="trk-2",
                                         card_param_map={"title": "t"},
                                         open_conversation_id="cidG==", at_user_ids={"u1": "张三"})
    one, group = (c.json for c in dt.calls("/card/instances/createAndDeliver"))
    assert one == {
        "cardTemplateId": "tpl.schema", "outTrackId": "trk-1", "callbackType": "STREAM",
        "cardData": {"cardParamMap": {"title": "审批", "buttonCount": "2", "decided": "false",
                                      "buttons": '[{"a":1}]'}},
        "userIdType": 1, "openSpaceId": "dtv1.card//IM_ROBOT.manager1",
        "imRobotOpenSpaceModel": {"supportForward": True},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": "robot-1"}}
    assert group["openSpaceId"] == "dtv1.card//IM_GROUP.cidG=="
    assert group["imGroupOpenSpaceModel"] == {"supportForward": True}
    assert group["imGroupOpenDeliverModel"] == {"robotCode": "robot-1",
                                                "atUserIds": {"u1": "张三"}}
    assert "imRobotOpenDeliverModel" not in group


async def test_card_needs_exactly_one_space(client: DingTalkClient) -> None:
    with pytest.raises(ValueError):
        await client.create_and_deliver_card(template_id="t", out_track_id="x", card_param_map={})


async def test_update_card_body(client: DingTalkClient, dt: FakeDingTalk) -> None:
    await client.update_card("trk-1", {"decided": True, "replaceText": "已同意"})
    [call] = dt.calls("/v1.0/card/instances")
    assert call.method == "PUT"
    assert call.json == {"outTrackId": "trk-1",
                         "cardData": {"cardParamMap": {"decided": "true", "replaceText": "已同意"}},
                         "cardUpdateOptions": {"updateCardDataByKey": True,
                                               "updatePrivateDataByKey": True},
                         "userIdType": 1}


async def test_session_webhook(client: DingTalkClient, dt: FakeDingTalk) -> None:
    body = {"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}}
    await client.session_webhook_send(dt.session_webhook("s1"), body)
    [call] = dt.calls("/robot/sendBySession")
    assert call.json == body and call.token is None and call.query == {"session": "s1"}
    dt.expired_sessions.add("s2")
    with pytest.raises(DingTalkError) as err:
        await client.session_webhook_send(dt.session_webhook("s2"), body)
    assert err.value.code == ERR_SESSION_EXPIRED and not err.value.retriable


async def test_custom_robot_signed(client: DingTalkClient, dt: FakeDingTalk) -> None:
    body = {"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}}
    await client.custom_robot_send(dt.robot_webhook(), ROBOT_SECRET, body)  # fake checks sign
    with pytest.raises(DingTalkError) as err:
        await client.custom_robot_send(dt.robot_webhook(), "SECwrong", body)
    assert err.value.code == "310000" and not err.value.retriable
    with pytest.raises(DingTalkError):
        await client.custom_robot_send(dt.robot_webhook(), None, body)  # unsigned: refused
    first = dt.calls("/robot/send")[0]
    assert set(first.query) == {"access_token", "timestamp", "sign"} and first.json == body


async def test_robot_rate_limit_is_handed_to_the_outbox(client: DingTalkClient, dt: FakeDingTalk,
                                                        sleeps: Sleeps) -> None:
    dt.fail_next(1, status=200, body={"errcode": 130101, "errmsg": "send too fast"})
    with pytest.raises(DingTalkError) as err:
        await client.custom_robot_send(dt.robot_webhook(), ROBOT_SECRET, {"msgtype": "text"})
    assert err.value.retriable and err.value.retry_after == 600
    assert sleeps.delays == []  # a 10-minute penalty is not slept through here


async def test_no_secrets_or_tokens_in_logs(client: DingTalkClient, dt: FakeDingTalk,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dt.fail_next(1, status=500)
    await client.custom_robot_send(dt.robot_webhook(), ROBOT_SECRET, {"msgtype": "text"})
    await client.group_send("cid", "sampleText", {"content": "x"})
    dt.expire_tokens()
    await client.group_send("cid", "sampleText", {"content": "y"})
    text = caplog.text
    tokens = {r.token for r in dt.requests if r.token}
    assert len(tokens) == 2
    for secret in (CLIENT_SECRET, ROBOT_SECRET, "robot-token-1", *tokens):
        assert secret not in text


def test_client_from_settings() -> None:
    settings = Settings(dingtalk_client_id="cid", dingtalk_client_secret=SecretStr("sec"),
                        dingtalk_api_base="http://127.0.0.1:9/")
    client = client_from_settings(settings)
    assert client.robot_code == "cid"
    with pytest.raises(ValueError):
        client_from_settings(Settings(dingtalk_client_id="cid"))
