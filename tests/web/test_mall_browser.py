"""The employee mall in Debian's Chromium at phone size (390 × 844), against the same real
``jifen run`` and the same single browser as the console's browser tests: open the mall from a
card's 打开商城 link, browse a category, redeem and confirm, see the order with its state, give
points and see the colleague's chat notification arrive, and a refusal shown inline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from core.models import CatalogItem, Order, OutboxMessage
from tests.web.browser import BROWSER_MARKS, Live

pytestmark = BROWSER_MARKS
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
WAIT = 20_000  # ms; Playwright polls until then (the outbox worker delivers in the background)


@pytest.fixture
def phone(browser: Any, live: Live) -> Iterator[Any]:
    """王伟 (E004) on a phone, signed in to the mall with ``jifen login-link E004``."""
    context = browser.new_context(**PHONE)
    pg = context.new_page()
    pg.goto(live.link("E004", admin=False))
    assert pg.url == f"{live.base}/m"
    yield pg
    context.close()


def test_open_the_mall_from_the_balance_card(browser: Any, live: Live) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    chat = context.new_page()
    chat.goto(f"{live.base}/playground?as=E004")
    expect(chat.locator("body[data-ready='1']")).to_have_count(1)
    chat.locator("button[data-text='积分']").click()
    link = chat.locator(".card-link a").last
    expect(link).to_have_text("打开商城")
    with context.expect_page() as opened:
        link.click()
    mall = opened.value
    mall.wait_for_load_state()
    assert mall.url == f"{live.base}/m"
    expect(mall.locator(".m-top .m-title")).to_have_text("王伟")
    expect(mall.locator("#lots")).to_contain_text("过期")
    mall.screenshot(path=str(live.shots / "mall-home.png"))
    context.close()


def test_browse_a_category_redeem_confirm_and_see_the_order(phone: Any, live: Live) -> None:
    from playwright.sync_api import expect

    phone.locator(".m-tabs").get_by_role("link", name="商城").click()
    phone.locator("#categories").get_by_role("link", name="周边").click()
    expect(phone.locator("#items .m-item")).to_have_count(2)
    expect(phone.locator("#items .m-item[data-sku=CUP01] img")).to_have_count(1)
    phone.wait_for_load_state("networkidle")
    phone.screenshot(path=str(live.shots / "mall-catalog.png"))
    phone.locator("#items .m-item[data-sku=CUP01]").click()
    phone.get_by_role("button", name="兑换").click()
    expect(phone.locator("#confirmation")).to_contain_text("定制马克杯")
    phone.locator("#confirm").click()
    expect(phone.locator(".notice")).to_contain_text("兑换成功")
    order_no = phone.locator(".notice").inner_text().rsplit(" ", 1)[1]
    box = phone.locator(f"#order-{order_no}")
    expect(box).to_contain_text("待发货")
    phone.screenshot(path=str(live.shots / "mall-orders.png"))

    async def status(s: Any) -> str:
        return str(await s.scalar(select(Order.status).where(Order.order_no == order_no)))

    assert live.query(status) == "placed"


def test_not_enough_points_is_shown_inline(phone: Any, live: Live) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{live.base}/m/item/JD100")
    phone.get_by_role("button", name="兑换").click()
    expect(phone.locator(".problem")).to_contain_text("积分不足")
    assert "/m/item/JD100" in phone.url
    phone.screenshot(path=str(live.shots / "mall-refusal.png"))


def test_a_broken_image_shows_the_placeholder(phone: Any, live: Live) -> None:
    from playwright.sync_api import expect

    async def break_image(s: Any) -> None:
        await s.execute(update(CatalogItem).where(CatalogItem.sku == "MASSAGE")
                        .values(image_url="/static/demo/no-such-picture.png"))
        await s.commit()

    live.query(break_image)
    phone.goto(f"{live.base}/m/catalog?category=服务")
    tile = phone.locator("#items .m-item[data-sku=MASSAGE]")
    expect(tile.locator("img")).to_have_count(0)  # removed on error: the placeholder shows
    expect(tile.locator(".thumb span")).to_be_visible()


def test_give_points_and_the_colleague_is_told_in_chat(browser: Any, phone: Any, live: Live,
                                                       ) -> None:
    from playwright.sync_api import expect

    phone.locator(".m-tabs").get_by_role("link", name="送积分").click()
    phone.fill("input[name=q]", "刘洋")
    phone.press("input[name=q]", "Enter")
    phone.locator("label.m-person", has_text="刘洋").click()
    phone.fill("input[name=amount]", "8")
    phone.fill("input[name=reason]", "周末帮忙值班")
    phone.locator(".values label", has_text="团队合作").click()
    phone.get_by_role("button", name="送出").click()
    expect(phone.locator(".notice")).to_contain_text("刘洋 收到 8 分")
    phone.screenshot(path=str(live.shots / "mall-give.png"))

    async def queued(s: Any) -> list[Any]:
        return list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "employee:E006", OutboxMessage.kind == "award_received",
            OutboxMessage.payload.contains("周末帮忙值班"))))

    assert len(live.query(queued)) == 1
    colleague = browser.new_context(locale="zh-CN").new_page()
    colleague.goto(f"{live.base}/playground?as=E006")  # 刘洋's chat: the push arrives there
    expect(colleague.locator("#log")).to_contain_text("周末帮忙值班 #团队合作", timeout=WAIT)
    colleague.context.close()
