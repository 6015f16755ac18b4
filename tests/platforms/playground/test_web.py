"""The playground's JSON API over real HTTP, against the demo organisation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import WORKER_KEY

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(app: web.Application,
                 aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> Client:
    return await aiohttp_client(app)


async def send(client: Client, who: str, text: str) -> list[dict[str, Any]]:
    resp = await client.post("/playground/api/send", json={"as": who, "text": text})
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["cards"])


async def click(client: Client, who: str, action: str) -> list[dict[str, Any]]:
    resp = await client.post("/playground/api/click", json={"as": who, "action": action})
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["cards"])


async def inbox(client: Client, who: str) -> list[dict[str, Any]]:
    await client.app[WORKER_KEY].run_once()
    resp = await client.get("/playground/api/inbox", params={"as": who})
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["cards"])


def only(cards: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [c for c in cards if c["kind"] == kind]
    assert len(found) == 1, [c["kind"] for c in cards]
    return found[0]


async def test_page_and_static_files(client: Client) -> None:
    page = await client.get("/playground")
    assert page.status == 200
    assert "Content-Security-Policy" in page.headers
    html = await page.text()
    assert '<select id="employee"' in html and "/playground/static/app.js" in html
    assert "maxlength" not in html  # a long message reaches the bot, which says the limit
    assert "http://" not in html and "https://" not in html  # no CDN, no external URL
    for name in ("app.js", "style.css"):
        resp = await client.get(f"/playground/static/{name}")
        assert resp.status == 200
        assert "https://" not in await resp.text()


async def test_lists_active_employees_with_roles(client: Client) -> None:
    resp = await client.get("/playground/api/employees")
    people = {e["employee_id"]: e for e in (await resp.json())["employees"]}
    assert sorted(people) == [f"E{i:03d}" for i in range(1, 11)]
    assert people["E004"] == {"employee_id": "E004", "name": "王伟", "department": "研发部",
                              "roles": ["employee"]}
    assert people["E003"]["roles"] == ["employee", "manager"]
    assert "hr" in people["E002"]["roles"]


async def test_balance_card_with_html(client: Client) -> None:
    card = only(await send(client, "E004", "积分"), "balance")
    assert any("520" in line for line in card["fields"][0])
    assert card["html"].startswith('<div class="card card-balance"')
    assert 'data-action="' in card["html"]  # the 商城 button


async def test_redeem_confirm_button_places_an_order(client: Client) -> None:
    confirm = only(await send(client, "E006", "兑换 CUP01"), "redemption_confirm")
    action = confirm["buttons"][0]["action"]
    assert confirm["buttons"][0]["text"] == "确认兑换"
    assert f'data-action="{action}"' in confirm["html"]
    order = only(await click(client, "E006", action), "order_status")
    assert "定制马克杯" in order["html"]
    assert order["title"].startswith("订单 O")


async def approve_from_inbox(client: Client, manager: str) -> None:
    request = only(await inbox(client, manager), "approval_request")
    approve = next(b for b in request["buttons"] if b["text"] == "同意")
    assert 'data-action="' + approve["action"] + '"' in request["html"]
    decided = await click(client, manager, approve["action"])
    assert only(decided, "approval_decided")["title"].endswith("已同意")


async def test_award_above_50_from_e004_is_approved_by_e003(client: Client) -> None:
    # E004 has given 60 of his 100 this month, so the demo itself holds his award above 50 to
    # 刘洋 (E006, "帮忙排查线上故障"); after the worker runs, his manager 赵磊 (E003) has the card.
    await inbox(client, "E006")  # the demo's earlier pushes
    await approve_from_inbox(client, "E003")
    award = only(await inbox(client, "E006"), "award_received")
    assert "60" in award["title"] and "王伟" in award["html"] and "帮忙排查线上故障" in award["html"]
    assert await inbox(client, "E006") == []  # taken once


async def test_new_award_above_50_waits_for_the_givers_manager(client: Client) -> None:
    await inbox(client, "E006")
    # 王伟 of 市场部 (E005) thanks 刘洋 with 60 > 50: it waits for his manager 孙悦 (E007)
    reply = await send(client, "E005", "赞 @刘洋 60分 谢谢你的方案")
    assert "审批" in " ".join(reply[0]["lines"] + [reply[0]["title"]])
    assert await inbox(client, "E006") == []  # nothing until approved
    await approve_from_inbox(client, "E007")
    award = only(await inbox(client, "E006"), "award_received")
    assert "谢谢你的方案" in award["html"]


async def test_a_message_over_the_limit_is_refused_whole_with_the_limit(client: Client) -> None:
    before = only(await send(client, "E007", "积分"), "balance")["fields"]
    await inbox(client, "E007")  # the demo's welcome grant
    text = "赞 @E007 10分 " + "谢谢你帮我review代码" * 160
    assert len(text) == 2092
    reply = await send(client, "E004", text)
    assert [c["title"] for c in reply] == [
        "消息太长：最多 2,000 个字（这条 2,092 个），没有执行，请缩短后重发。"]
    assert only(await send(client, "E007", "积分"), "balance")["fields"] == before
    assert await inbox(client, "E007") == []  # no award was given
    english = await send(client, "E004", "give @E007 10 " + "thanks " * 300)
    assert english[0]["title"].startswith("That message is too long: at most 2,000 characters")
    assert len("give @E007 10 " + "thanks " * 300) == 2114 and "2,114" in english[0]["title"]
    just = await send(client, "E004", "赞 @E007 10分 " + "谢" * (2000 - 12))  # at the limit: read
    assert "消息太长" not in just[0]["title"]


@pytest.mark.parametrize(("path", "body", "status", "error"), [
    ("/playground/api/send", {"as": "NOPE", "text": "积分"}, 400, "unknown employee"),
    ("/playground/api/send", {"text": "积分"}, 400, "'as' is required"),
    ("/playground/api/send", {"as": "E004"}, 400, "'text' is required"),
    ("/playground/api/send", {"as": "E004", "text": "x" * 20_001}, 400, "longer than"),
    ("/playground/api/send", ["E004", "积分"], 400, "JSON object"),
    ("/playground/api/click", {"as": "E004", "action": 7}, 400, "'action' is required"),
    ("/playground/api/click", {"as": "ghost", "action": "ct"}, 400, "unknown employee"),
])
async def test_bad_input_is_a_400(client: Client, path: str, body: Any, status: int,
                                  error: str) -> None:
    resp = await client.post(path, json=body)
    assert resp.status == status
    assert error in (await resp.json())["error"]


async def test_bad_body_and_inbox_without_employee(client: Client) -> None:
    resp = await client.post("/playground/api/send", data=b"{nope",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    form = await client.post("/playground/api/send", data={"as": "E004", "text": "积分"})
    assert form.status == 415  # a cross-site form post cannot drive the playground
    assert (await client.get("/playground/api/inbox")).status == 400
    assert (await client.get("/playground/api/inbox", params={"as": "E999"})).status == 400


async def test_malformed_button_payload_gets_a_reply_not_an_error(client: Client) -> None:
    cards = await click(client, "E004", "no-such-action")
    assert cards and cards[0]["kind"] == "message"


async def test_recognition_in_the_playground(client: Client) -> None:
    """+1, 撤回 and the new boards through the playground, like any chat (SPEC section 13)."""
    [given] = await send(client, "E004", "赞 @刘洋 10分 周报写得清楚 #团队合作")
    award_id = next(w for w in " ".join(given["lines"]).replace("「", " ").replace("」", " ").split()
                    if w.startswith("Z") and w[1:].isdigit())
    [joined] = await send(client, "E003", f"+1 {award_id}")
    assert "追加点赞 10 分" in joined["title"]
    pushed = " ".join(" ".join(c["lines"]) for c in await inbox(client, "E006"))
    assert "赵磊 也为你点赞" in pushed
    [undone] = await send(client, "E004", f"撤回 {award_id}")
    assert "已撤回" in undone["title"]
    [board] = await send(client, "E006", "排行 点赞")
    assert "点赞榜" in board["title"] and "赵磊" in " ".join(board["lines"])
    [values] = await send(client, "E006", "leaderboard values")
    assert "#团队合作" in " ".join(values["lines"])
    [refused] = await send(client, "E006", f"撤回 {award_id}")
    assert refused["title"] == "只能撤回自己送出的点赞。"  # one line
