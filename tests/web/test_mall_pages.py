"""The mall's pages over real HTTP, signed in from a card link: every action is the chat
command's own core call, so a mall order is in chat 订单 and on HR's order desk, a gift sends the
same notification, and refusals read as in chat."""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import unquote

from sqlalchemy import select, update

from bot.app import DISPATCHER_KEY, SETTINGS_KEY
from bot.runtime.events import playground_event
from bot.web.mall.links import push_linker
from cards.render_text import render_plain
from core.models import CatalogItem, OutboxMessage, utcnow
from core.orders.desk import desk
from tests.web.conftest import EMPLOYEE, Console, csrf_of, link_for

_ids = itertools.count(1)


async def sign_in_mall(console: Console, employee_id: str = EMPLOYEE) -> str:
    resp = await console.client.get(await link_for(console.app, employee_id, purpose="mall"),
                                    allow_redirects=False)
    assert resp.status == 303
    page = await console.client.get("/m")
    assert page.status == 200
    return csrf_of(await page.text())


async def chat(console: Console, employee_id: str, text: str) -> str:
    """What the chat answers (the same dispatcher WeCom and DingTalk feed)."""
    cards = await console.app[DISPATCHER_KEY].feed(
        playground_event(employee_id, text, message_id=f"mall-test-{next(_ids)}"))
    return "\n".join(render_plain(c) for c in cards)


async def test_home_shows_points_allowance_and_expiring_lots(console: Console) -> None:
    await sign_in_mall(console)
    html = await (await console.client.get("/m")).text()
    assert 'id="balance"' in html and "本月可送额度" in html
    assert "过期" in html  # the demo's welcome points carry an expiry date
    history = await (await console.client.get("/m/history")).text()
    assert "+500" in history
    english = await (await console.client.get("/m?lang=en")).text()
    assert "Allowance left this month" in english


async def test_catalog_by_category_search_stock_and_sold_out(console: Console) -> None:
    await sign_in_mall(console)
    await console.db.run(lambda s: s.execute(update(CatalogItem).where(CatalogItem.sku == "GYM01")
                                             .values(stock=0)))
    every = await (await console.client.get("/m/catalog")).text()
    assert "定制马克杯" in every and "周边" in every and "卡券" in every
    assert "已兑完" in every  # GYM01 has no stock left
    assert "每人每月限 2 件" in every  # BAG01's limit
    cards = await (await console.client.get("/m/catalog?category=卡券")).text()
    assert "咖啡券" in cards and "定制马克杯" not in cards
    found = await (await console.client.get("/m/catalog?q=帆布")).text()
    assert "帆布包" in found and "咖啡券" not in found
    item = await (await console.client.get("/m/item/GYM01")).text()
    assert "已兑完" in item and "disabled" in item
    gone = await console.client.get("/m/item/NOPE", allow_redirects=False)
    assert gone.status == 303 and "/m/catalog" in gone.headers["Location"]


async def _redeem(console: Console, csrf: str, sku: str) -> str:
    resp = await console.client.post("/m/redeem", data={"csrf": csrf, "sku": sku, "qty": "1"},
                                     allow_redirects=False)
    assert resp.status == 303
    return resp.headers["Location"]


async def test_redeem_confirm_and_the_order_is_in_chat_and_on_the_desk(console: Console) -> None:
    csrf = await sign_in_mall(console)
    confirm_at = await _redeem(console, csrf, "CUP01")
    assert confirm_at.startswith("/m/confirm/")
    code = confirm_at.rsplit("/", 1)[1]
    page = await (await console.client.get(confirm_at)).text()
    assert "定制马克杯" in page and f"确认 {code}" in page  # the chat's own code
    done = await console.client.post(confirm_at, data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303 and "/m/orders" in done.headers["Location"]
    order_no = f"O{code}"
    orders_page = await (await console.client.get("/m/orders")).text()
    assert order_no in orders_page and "待发货" in orders_page
    assert order_no in await chat(console, EMPLOYEE, "订单")
    rows = await console.db.run(lambda s: desk(s, state="placed"))
    assert order_no in [r.order_no for r in rows]
    twice = await console.client.post(confirm_at, data={"csrf": csrf}, allow_redirects=False)
    assert twice.status == 303  # a double click is the same order, not a second one
    assert (await chat(console, EMPLOYEE, "订单")).count(order_no) == 1


async def test_a_code_item_shows_its_code(console: Console) -> None:
    csrf = await sign_in_mall(console)
    confirm_at = await _redeem(console, csrf, "COFFEE")
    await console.client.post(confirm_at, data={"csrf": csrf}, allow_redirects=False)
    html = await (await console.client.get("/m/orders")).text()
    assert "CF-DEMO-0" in html and "券码" in html


async def test_not_enough_points_is_refused_on_the_item_page(console: Console) -> None:
    csrf = await sign_in_mall(console)
    back = await _redeem(console, csrf, "JD100")  # 1000 points, the demo gives about 500
    assert back.startswith("/m/item/JD100?problem=")
    assert "积分不足" in unquote(back)
    page = await (await console.client.get(back)).text()
    assert "积分不足" in page and 'class="problem"' in page
    assert "JD100" not in await chat(console, EMPLOYEE, "订单")


async def test_give_points_to_a_colleague_found_by_name(console: Console) -> None:
    csrf = await sign_in_mall(console)
    found = await (await console.client.get("/m/give?q=刘洋")).text()
    assert 'value="E006"' in found
    form = {"csrf": csrf, "nonce": "n-1", "to": "E006", "amount": "10", "reason": "帮我修好了构建"}
    sent = await console.client.post("/m/give", data=form, allow_redirects=False)
    assert sent.status == 303 and "刘洋" in unquote(sent.headers["Location"])
    again = await console.client.post("/m/give", data=form, allow_redirects=False)
    assert again.status == 303  # the same form twice is one award (the nonce is its key)

    async def pushes(s: Any) -> list[OutboxMessage]:
        return list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "employee:E006", OutboxMessage.kind == "award_received",
            OutboxMessage.payload.contains("帮我修好了构建"))))

    assert len(await console.db.run(pushes)) == 1
    short = dict(form, nonce="n-2", reason="好")
    refused = await console.client.post("/m/give", data=short)
    assert refused.status == 422 and "理由至少需要" in await refused.text()
    me_too = await console.client.post("/m/give", data=dict(form, nonce="n-3", to=EMPLOYEE))
    assert me_too.status == 422


async def test_changes_need_the_csrf_token_and_a_session(console: Console) -> None:
    await sign_in_mall(console)
    refused = await console.client.post("/m/redeem", data={"sku": "CUP01"}, allow_redirects=False)
    assert refused.status == 403
    board = await (await console.client.get("/m/leaderboard?period=year")).text()
    assert "排行榜" in board


async def test_the_mall_link_is_minted_as_a_card_is_sent(console: Console) -> None:
    """积分 and 商城 only read; their 打开商城 link is minted by the delivery (outbox or playground)."""
    links = push_linker(console.db, console.app[SETTINGS_KEY])
    for command in ("积分", "商城"):
        cards = await console.app[DISPATCHER_KEY].feed(
            playground_event(EMPLOYEE, command, message_id=f"mall-test-{next(_ids)}"))
        assert all(c.link is None for c in cards)  # nothing written while answering
        text = "\n".join([render_plain(await links(EMPLOYEE, c)) for c in cards])
        assert "打开商城：http://127.0.0.1:8080/m/login?token=" in text, command
    card = (await console.app[DISPATCHER_KEY].feed(
        playground_event(EMPLOYEE, "积分", message_id=f"mall-test-{next(_ids)}")))[0]
    link = str((await links(EMPLOYEE, card)).link)
    opened = await console.client.get(link.split("8080", 1)[1], allow_redirects=False)
    assert opened.status == 303 and opened.headers["Location"] == "/m"


async def test_the_leaderboard_by_department_matches_chat(console: Console) -> None:
    """排行 [部门] in the mall: the department chips narrow the board exactly as chat does."""
    from bot.app import POLICY_KEY
    from core.awards.service import give

    async def awards(s: Any) -> None:
        pol = console.app[POLICY_KEY]
        for n, (giver, to) in enumerate((("E003", "E006"), ("E007", "E008"), ("E009", "E010"))):
            await give(s, giver_id=giver, recipient_ids=[to], amount=10 + n, reason="周会分享很精彩",
                       key=f"board-test:{n}", now=utcnow(), policy=pol)

    await console.db.run(awards)
    await sign_in_mall(console)
    everyone = await (await console.client.get("/m/leaderboard?period=month")).text()
    assert all(name in everyone for name in ("刘洋", "Alice Chen", "吴敏"))
    assert 'href="/m/leaderboard?period=month&amp;dept=%E7%A0%94%E5%8F%91%E9%83%A8"' in everyone
    rd = await (await console.client.get("/m/leaderboard?period=month&dept=研发部")).text()
    board = rd.split('id="board"', 1)[1]
    assert "刘洋" in board and "Alice Chen" not in board and "吴敏" not in board
    in_chat = await chat(console, EMPLOYEE, "排行 研发部")
    shown = re.findall(r'</b> ([^<]+)<small>', board)
    assert shown and all(name in in_chat for name in shown)
    assert "Alice Chen" not in in_chat
    # the period chips keep the department; an unknown one shows the whole company
    assert 'href="/m/leaderboard?period=year&amp;dept=%E7%A0%94%E5%8F%91%E9%83%A8"' in rd
    unknown = await (await console.client.get("/m/leaderboard?dept=不存在")).text()
    assert "Alice Chen" in unknown and "吴敏" in unknown
