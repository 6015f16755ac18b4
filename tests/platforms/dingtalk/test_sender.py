"""The outgoing policy (what the Deliverer calls) against the fake DingTalk."""

from __future__ import annotations

import json
import time

import pytest

from bot.platforms.base import DeliveryError
from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.errors import DingTalkError
from bot.platforms.dingtalk.sender import DingTalkSender, delivery_error
from cards.actions import ApproveAction, RejectAction
from cards.model import Button, Card
from tests.fakes.dingtalk_server import ROBOT_SECRET, FakeDingTalk

PLAIN = Card(kind="message", title="余额", lines=["当前积分 120"])
BUTTONS = Card(kind="approval_request", title="审批", lines=["张三 申请 50 分"], buttons=[
    Button("同意", ApproveAction("A12").pack(), "同意 A12", "primary"),
    Button("拒绝", RejectAction("A12").pack(), "拒绝 A12")])


def hint(dt: FakeDingTalk, *, session: str = "s1", expires_in_ms: int = 3_600_000) -> dict[str, object]:
    return {"sessionWebhook": dt.session_webhook(session),
            "sessionWebhookExpiredTime": int(time.time() * 1000) + expires_in_ms}


@pytest.fixture
def sender(client: DingTalkClient) -> DingTalkSender:
    return DingTalkSender(client)


@pytest.fixture
def card_sender(client: DingTalkClient) -> DingTalkSender:
    return DingTalkSender(client, card_template_id="tpl.schema")


async def test_reply_uses_valid_session_webhook(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    assert await sender.reply("user001", PLAIN, hint=hint(dt)) is None
    [call] = dt.calls("/robot/sendBySession")
    assert call.json["msgtype"] == "markdown" and call.json["markdown"]["title"] == "余额"
    assert "at" not in call.json
    assert dt.calls("/oToMessages/batchSend") == []


async def test_group_reply_mentions_the_sender(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    await sender.reply("user001", PLAIN, hint=hint(dt), conversation_id="cidG==")
    [call] = dt.calls("/robot/sendBySession")
    assert call.json["at"] == {"atUserIds": ["user001"]}


async def test_reply_after_expiry_uses_the_openapi(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    await sender.reply("user001", PLAIN, hint=hint(dt, expires_in_ms=-1000))
    await sender.reply("user001", PLAIN, hint=hint(dt, expires_in_ms=-1000), conversation_id="cidG")
    await sender.reply("user001", PLAIN, hint={})
    assert dt.calls("/robot/sendBySession") == []
    assert len(dt.calls("/oToMessages/batchSend")) == 2
    [group] = dt.calls("/groupMessages/send")
    assert group.json["openConversationId"] == "cidG"


async def test_expired_session_falls_back(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    dt.expired_sessions.add("old")
    await sender.reply("user001", PLAIN, hint=hint(dt, session="old"))
    assert len(dt.calls("/robot/sendBySession")) == 1
    [call] = dt.calls("/oToMessages/batchSend")
    assert call.json["userIds"] == ["user001"] and call.json["msgKey"] == "sampleMarkdown"
    param = json.loads(call.json["msgParam"])
    assert param["title"] == "余额" and "120" in param["text"]


async def test_buttons_without_template_degrade_to_markdown(sender: DingTalkSender,
                                                           dt: FakeDingTalk) -> None:
    assert await sender.to_user("manager1", BUTTONS) is None
    [call] = dt.calls("/oToMessages/batchSend")
    assert "同意 A12" in json.loads(call.json["msgParam"])["text"]  # the text fallback
    assert dt.calls("/createAndDeliver") == []


async def test_buttons_with_template_are_an_interactive_card(card_sender: DingTalkSender,
                                                             dt: FakeDingTalk) -> None:
    track = await card_sender.reply("manager1", BUTTONS, hint=hint(dt))
    assert track is not None
    [call] = dt.calls("/createAndDeliver")
    assert call.json["outTrackId"] == track and call.json["cardTemplateId"] == "tpl.schema"
    assert call.json["openSpaceId"] == "dtv1.card//IM_ROBOT.manager1"
    params = call.json["cardData"]["cardParamMap"]
    assert all(isinstance(v, str) for v in params.values())
    assert json.loads(params["buttons"])[0]["action"] == "ap:A12"
    assert dt.calls("/robot/sendBySession") == []  # a sessionWebhook cannot carry cards
    await card_sender.update_card(track, BUTTONS, "已同意")
    [update] = dt.calls("/v1.0/card/instances")
    assert update.json["cardData"]["cardParamMap"]["replaceText"] == "已同意"
    assert update.json["cardData"]["cardParamMap"]["buttonCount"] == "0"


async def test_plain_card_with_template_still_markdown(card_sender: DingTalkSender,
                                                       dt: FakeDingTalk) -> None:
    assert await card_sender.to_group("cidG", PLAIN) is None
    assert len(dt.calls("/groupMessages/send")) == 1
    track = await card_sender.to_group("cidG", BUTTONS)
    [call] = dt.calls("/createAndDeliver")
    assert call.json["openSpaceId"] == "dtv1.card//IM_GROUP.cidG" and call.json["outTrackId"] == track


async def test_flow_controlled_user_is_retriable(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    dt.flow_controlled.add("busy")
    dt.invalid_users.add("gone")
    with pytest.raises(DingTalkError) as busy:
        await sender.to_user("busy", PLAIN)
    with pytest.raises(DingTalkError) as gone:
        await sender.to_user("gone", PLAIN)
    assert busy.value.retriable and busy.value.retry_after
    assert not gone.value.retriable
    mapped = delivery_error(busy.value)
    assert isinstance(mapped, DeliveryError) and mapped.retriable
    assert mapped.retry_after == busy.value.retry_after


async def test_webhook_broadcast(sender: DingTalkSender, dt: FakeDingTalk) -> None:
    await sender.to_webhook(dt.robot_webhook(), ROBOT_SECRET, BUTTONS)
    [call] = dt.calls("/robot/send")
    assert call.json["msgtype"] == "markdown" and "同意 A12" in call.json["markdown"]["text"]
