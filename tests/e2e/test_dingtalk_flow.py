"""DingTalk end to end: the real dingtalk-stream based client connected to a loopback fake gateway
and OpenAPI (in its own thread), frames pushed as DingTalk does, the dispatcher, the outbox and
every outgoing call recorded. Demo staff ids: dt_wangwei (E004, manager dt_zhaolei E003),
dt_liuyang (E006), dt_linfang (HR)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import DB_KEY, EVENT_INBOX_KEY, POLICY_KEY, STREAM_KEY, WORKER_KEY, build
from bot.app.demo import load_demo
from bot.inbox import InboxProcessor
from bot.outbox import OutboxWorker
from bot.platforms.dingtalk.parse import TOPIC_BOT_MESSAGE, TOPIC_CARD_CALLBACK
from bot.platforms.dingtalk.stream import DingTalkStream
from config.settings import Settings
from core import ledger
from core.db import Database
from core.ledger.verify import verify
from core.models import utcnow
from tests.conftest import ROOT, _reset_postgres
from tests.e2e.test_wecom_flow import EVERY_COMMAND
from tests.fakes.dingtalk_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROBOT_SECRET,
    FakeDingTalk,
    bot_message,
    callback_frame,
    card_callback,
)

_ids = itertools.count(1)


async def until(predicate: Callable[[], object], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the fake changes state in its own thread
            await asyncio.sleep(0.02)


@dataclass
class DingBot:
    dt: FakeDingTalk
    db: Database
    worker: OutboxWorker
    stream: DingTalkStream
    events: InboxProcessor

    async def say(self, sender: str, text: str, *, msg_id: str | None = None, group: bool = False,
                  at: list[str] = (), session: str = "s1", expires_ms: int | None = None) -> None:  # type: ignore[assignment]
        frame_id = f"f{next(_ids)}"
        at_users = [{"dingtalkId": "$:LWCP_v1:$robot"}] + [
            {"dingtalkId": f"$:{s}", "staffId": s} for s in at]
        data = bot_message(text=text, msg_id=msg_id or f"msg{next(_ids)}", sender=sender,
                           group=group, at_users=at_users, webhook=self.dt.session_webhook(session),
                           expires_ms=expires_ms)
        await self._push(data, TOPIC_BOT_MESSAGE, frame_id)

    async def click(self, user: str, action: str, out_track_id: str) -> None:
        await self._push(card_callback(action=action, user=user, out_track_id=out_track_id),
                         TOPIC_CARD_CALLBACK, f"f{next(_ids)}")

    async def _push(self, data: dict[str, Any], topic: str, frame_id: str) -> None:
        self.dt.push(callback_frame(data, topic=topic, message_id=frame_id))
        await until(lambda: any(a.get("headers", {}).get("messageId") == frame_id for a in self.dt.acks))
        # the frame is ACKed once stored in the inbox and processed after, in the inbox's task
        await self.events.idle()
        while await self.worker.run_once():
            pass

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r.json for r in self.dt.calls(path) if isinstance(r.json, dict)]

    def text(self, path: str) -> str:
        return json.dumps(self.bodies(path), ensure_ascii=False)

    def replies(self) -> str:
        """Everything said to users: session webhooks, 1:1 sends and interactive cards."""
        return "".join(self.text(p) for p in ("/robot/sendBySession", "/oToMessages/batchSend",
                                              "/card/instances/createAndDeliver"))


def _policy_file(dt: FakeDingTalk, tmp_path: Path) -> str:
    """The shipped policy plus DingTalk broadcast targets pointing at the fake."""
    text = (ROOT / "config" / "policy.yaml").read_text(encoding="utf-8").replace("  targets: []", (
        "  targets:\n"
        "    - {name: 钉钉项目群, platform: dingtalk, kind: group, open_conversation_id: cidGroup001==}\n"
        f"    - {{name: 钉钉全员群, platform: dingtalk, kind: webhook, url: \"{dt.robot_webhook()}\", "
        f"secret: {ROBOT_SECRET}}}\n"))
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def _bot(db_url: str, dt: FakeDingTalk, template: str | None, tmp_path: Path) -> tuple[Any, DingBot]:
    settings = Settings(database_url=db_url, dingtalk_client_id=CLIENT_ID, policy_file=_policy_file(dt, tmp_path),
                        dingtalk_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
                        dingtalk_api_base=dt.base_url, dingtalk_card_template_id=template,
                        _env_file=None)  # type: ignore[call-arg]
    app = await build(settings, background=False)
    db = app[DB_KEY]
    if not db.is_sqlite:
        await _reset_postgres(db)
    await load_demo(db, app[POLICY_KEY], now=utcnow())
    stream = app[STREAM_KEY]
    bot = DingBot(dt, db, app[WORKER_KEY], stream, app[EVENT_INBOX_KEY])
    while await bot.worker.run_once():  # the demo's own pushes
        pass
    await stream.start()
    await until(lambda: dt.connected == 1 and stream.connected)
    dt.requests.clear()
    return app, bot


@pytest.fixture(params=["template", "markdown"])
async def ding(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> AsyncIterator[DingBot]:
    with FakeDingTalk() as dt:
        app, bot = await _bot(db_url, dt, "tpl.jifen" if request.param == "template" else None,
                              tmp_path)
        try:
            yield bot
        finally:
            started = time.monotonic()
            await app[STREAM_KEY].stop()
            assert time.monotonic() - started < 5  # a clean, quick shutdown
            app.freeze()
            await app.shutdown()
            await app.cleanup()


async def _balance(bot: DingBot, employee_id: str) -> int:
    async with bot.db.uow() as s:
        return (await ledger.balance(s, employee_id=employee_id, now=utcnow())).balance


async def test_one_to_one_reply_through_session_webhook(ding: DingBot) -> None:
    await ding.say("dt_wangwei", " 明细")  # no buttons: a markdown reply on the sessionWebhook
    assert "欢迎使用积分商城" in ding.text("/robot/sendBySession")
    await ding.say("dt_wangwei", " balance")  # a card with a button: interactive with a template
    assert "Balance" in ding.replies()


async def test_group_award_with_at_mention_announced_and_pushed(ding: DingBot) -> None:
    before = await _balance(ding, "E006")
    await ding.say("dt_wangwei", " 赞 @刘洋 10分 谢谢帮忙 #团队合作", group=True, at=["dt_liuyang"])
    assert await _balance(ding, "E006") == before + 10
    replies = ding.bodies("/robot/sendBySession")
    if replies:  # markdown variant: answered in the group on its sessionWebhook, @giver
        assert replies[-1]["at"] == {"atUserIds": ["dt_wangwei"]}
    else:  # template variant: the group's award card, with its +1 button (SPEC section 13)
        cards = [c for c in ding.bodies("/v1.0/card/instances/createAndDeliver")
                 if "IM_GROUP." in str(c.get("openSpaceId"))]
        assert cards and "p1:Z" in json.dumps(cards[-1])
    pushes = ding.bodies("/v1.0/robot/oToMessages/batchSend") + ding.bodies(
        "/v1.0/card/instances/createAndDeliver")
    assert any("dt_liuyang" in json.dumps(p) for p in pushes)  # the recipient hears 1:1


def _sent_since(bot: DingBot, marks: dict[str, int]) -> tuple[str, str]:
    """(what the group saw, what was sent 1:1) since ``marks`` (request counts per path)."""
    new = {p: bot.bodies(p)[n:] for p, n in marks.items()}
    cards = new["/v1.0/card/instances/createAndDeliver"]
    group = new["/robot/sendBySession"] + [c for c in cards if "IM_GROUP." in str(c.get("openSpaceId"))]
    private = new["/v1.0/robot/oToMessages/batchSend"] + [
        c for c in cards if "IM_GROUP." not in str(c.get("openSpaceId"))]
    return json.dumps(group, ensure_ascii=False), json.dumps(private, ensure_ascii=False)


async def test_a_redemption_confirmed_in_a_group_keeps_its_code_private(ding: DingBot) -> None:
    await ding.say("dt_liuyang", " 兑换 COFFEE", group=True)
    code = re.search(r"确认 ([A-Z0-9]{4,})", ding.replies())
    assert code is not None
    paths = ("/robot/sendBySession", "/v1.0/card/instances/createAndDeliver",
             "/v1.0/robot/oToMessages/batchSend")
    marks = {p: len(ding.bodies(p)) for p in paths}
    await ding.say("dt_liuyang", f" 确认 {code.group(1)}", group=True)
    group, private = _sent_since(ding, marks)
    assert f"O{code.group(1)}" in group and "CF-DEMO-" not in group  # everyone sees the order
    assert "CF-DEMO-" in private and "dt_liuyang" in private  # the code only 1:1


async def test_award_above_threshold_decided_by_card_or_text(ding: DingBot) -> None:
    before = await _balance(ding, "E004")
    await ding.say("dt_liuyang", " 赞 @E004 60分 帮忙排查线上故障")
    cards = ding.bodies("/v1.0/card/instances/createAndDeliver")
    if cards:  # template variant: an interactive card to the manager, decided by a click
        card = cards[-1]
        params = card["cardData"]["cardParamMap"]
        assert all(isinstance(v, str) for v in params.values())
        action = next(b["action"] for b in json.loads(params["buttons"]) if b["action"].startswith("ap:"))
        await ding.click("dt_zhaolei", action, card["outTrackId"])
        await ding.click("dt_zhaolei", action, card["outTrackId"])  # double click
        assert ding.bodies("/v1.0/card/instances")  # PUT: the card shows the decision
    else:  # markdown variant: the fallback command printed on the card does the same
        pushed = ding.text("/v1.0/robot/oToMessages/batchSend")
        assert "dt_zhaolei" in pushed and "同意 A" in pushed
        approval = pushed.split("同意 A", 1)[1].split()[0].strip('"\\/').split("\\")[0]
        await ding.say("dt_zhaolei", f" 同意 A{approval}")
        await ding.say("dt_zhaolei", f" 同意 A{approval}")
    assert await _balance(ding, "E004") == before + 60  # credited exactly once
    async with ding.db.uow() as s:
        assert await verify(s) == []


async def test_duplicate_msg_id_one_effect(ding: DingBot) -> None:
    before = await _balance(ding, "E006")
    for _ in range(3):
        await ding.say("dt_wangwei", " 赞 @刘洋 5分 谢谢你的帮助", msg_id="same-msg")
    assert await _balance(ding, "E006") == before + 5
    assert len(ding.bodies("/robot/sendBySession")) == 1


async def test_expired_session_webhook_falls_back_to_openapi(ding: DingBot) -> None:
    await ding.say("dt_wangwei", " 积分", expires_ms=int(time.time() * 1000) - 1000)
    assert not ding.bodies("/robot/sendBySession")
    assert "dt_wangwei" in ding.replies() and "余额" in ding.replies()


STAFF = {"wangwei": "dt_wangwei", "liuyang": "dt_liuyang", "zhaolei": "dt_zhaolei",
         "linfang": "dt_linfang"}


@pytest.mark.parametrize("group", [False, True], ids=["1:1", "group"])
async def test_every_command_in_one_to_one_and_group(ding: DingBot, group: bool) -> None:
    for user, text, expected in EVERY_COMMAND:
        before = len(ding.dt.requests)
        mention = text.startswith(("赞 @刘洋", "给 @刘洋")) and group
        await ding.say(STAFF[user], f" {text}", group=group, at=["dt_liuyang"] if mention else [])
        said = json.dumps([r.json for r in ding.dt.requests[before:]], ensure_ascii=False)
        assert expected in said, (text, said)
    async with ding.db.uow() as s:
        assert await verify(s) == []


async def test_broadcast_to_dingtalk_group_and_signed_robot(ding: DingBot) -> None:
    await ding.say("dt_linfang", " 广播 双十一限时兑换 咖啡券 30 分")
    groups = ding.bodies("/v1.0/robot/groupMessages/send") + [
        b for b in ding.bodies("/v1.0/card/instances/createAndDeliver") if "openSpaceId" in json.dumps(b)]
    assert any("cidGroup001==" in json.dumps(g) and "双十一" in json.dumps(g, ensure_ascii=False)
               for g in groups)
    robot = ding.dt.calls("/robot/send")
    assert len(robot) == 1 and robot[0].query.get("sign")  # 加签: signed, and the fake checked it
    assert "双十一" in json.dumps(robot[0].json, ensure_ascii=False)
    from sqlalchemy import select

    from core.models import OutboxMessage

    async with ding.db.uow() as s:  # the fake refuses a bad signature: nothing may have failed
        assert "failed" not in set(await s.scalars(select(OutboxMessage.status)))
