"""The HR console in Debian's Chromium (/usr/bin/chromium, never a downloaded browser), driven
by Playwright against a real ``jifen run`` on loopback. One browser for the whole session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.models import CatalogItem, LedgerTransaction, Order, OutboxMessage
from tests.cli_helpers import jifen
from tests.web.browser import BROWSER_MARKS, Live

pytestmark = BROWSER_MARKS


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    """A fresh browser context signed in as HR from a one-time link."""
    context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
    pg = context.new_page()
    pg.goto(live.link())
    assert pg.url == f"{live.base}/admin"
    yield pg
    context.close()


def figures(page: Any, box: str) -> dict[str, int]:
    cells = page.locator(f"#{box} .num[data-k]")
    return {cells.nth(i).get_attribute("data-k"): int(cells.nth(i).inner_text())
            for i in range(cells.count())}


def test_sign_in_from_a_link_once(browser: Any, live: Live) -> None:
    from playwright.sync_api import expect

    link = live.link()
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    pg.goto(link)
    expect(pg.locator("header .who")).to_contain_text("林芳")
    cookie = next(c for c in context.cookies() if c["name"] == "jifen_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    other = browser.new_context(locale="zh-CN").new_page()
    other.goto(link)  # a used link in another browser: a clear page, no session
    expect(other.locator("h1")).to_have_text("无法登录")
    expect(other.locator("main")).to_contain_text("已使用")
    context.close()


def test_fulfil_an_order_from_the_desk_queues_the_notification(page: Any, live: Live) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live.base}/admin/orders?state=placed")
    row = page.locator("tr[id^=order-]").first
    order_no = (row.get_attribute("id") or "").removeprefix("order-")
    expect(row).to_contain_text("138****")  # contact masked
    page.screenshot(path=str(live.shots / "order-desk.png"), full_page=True)
    row.locator("input[name=order_no]").check()
    page.fill("input[name=note]", "已放到前台")
    page.get_by_role("button", name="批量发货").click()
    expect(page.locator(".notice")).to_contain_text("已处理 1 个订单")

    async def state(s: Any) -> tuple[Any, list[Any]]:
        order = await s.scalar(select(Order).where(Order.order_no == order_no))
        pushes = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == f"employee:{order.employee_id}",
            OutboxMessage.kind == "order_fulfilled")))
        return order, pushes

    order, pushes = live.query(state)
    assert order.status == "fulfilled" and order.note == "已放到前台"
    assert len(pushes) == 1 and order_no in pushes[0].payload


def test_grants_csv_preview_fix_confirm_and_upload_again(page: Any, live: Live, tmp_path: Path,
                                                         ) -> None:
    from playwright.sync_api import expect

    bad = tmp_path / "grants.csv"
    bad.write_text("employee_id,points,reason\nE003,50,季度之星\nE999,20,不存在的人\nE004,abc,坏数字\n",
                   encoding="utf-8")
    count = lambda: live.query(lambda s: s.scalar(  # noqa: E731
        select(LedgerTransaction.id).order_by(LedgerTransaction.id.desc()).limit(1)))
    before = count()
    page.goto(f"{live.base}/admin/grants")
    page.set_input_files("input[name=file]", str(bad))
    page.get_by_role("button", name="上传预览").click()
    expect(page.locator("#preview tr.bad")).to_have_count(2)
    expect(page.locator("#fix")).to_contain_text("2 行有问题")
    expect(page.locator("#preview")).to_contain_text("points：「abc」不是正整数")
    expect(page.locator("#confirm")).to_have_count(0)
    page.screenshot(path=str(live.shots / "grant-preview.png"), full_page=True)
    assert count() == before  # the preview changed nothing

    good = tmp_path / "grants-fixed.csv"
    good.write_text("employee_id,points,reason\nE003,50,季度之星\nE004,30,修正后的数字\n",
                    encoding="utf-8")
    page.set_input_files("input[name=file]", str(good))
    page.get_by_role("button", name="上传预览").click()
    expect(page.locator("#confirm")).to_contain_text("2 行，共 80 分")
    page.locator("#confirm").click()
    expect(page.locator(".notice")).to_contain_text("新发放 2 行")
    after_first = count()
    assert after_first != before

    page.set_input_files("input[name=file]", str(good))  # the very same file again
    page.get_by_role("button", name="上传预览").click()
    expect(page.locator("#preview tr.dup")).to_have_count(2)
    page.locator("#confirm").click()
    expect(page.locator(".notice")).to_contain_text("新发放 0 行，2 行此前已发放")
    assert count() == after_first  # nothing granted twice


def test_dashboard_numbers_match_the_report(page: Any, live: Live) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#flows canvas")).to_have_count(1)  # ECharts drew, from /static
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(live.shots / "dashboard.png"), full_page=True)
    dash = figures(page, "month-figures")
    page.goto(f"{live.base}/admin/reports")
    report = figures(page, "report-figures")
    for key in ("issued", "redeemed", "expired", "deducted", "expiring_30d"):
        assert dash[key] == report[key], key
    cli = jifen("report", db_url=live.db_url, env=live.env).stdout
    flows = re.search(r"^\s+issued\s+(\d+).*?^\s+redeemed\s+(\d+).*?^\s+expired\s+(\d+)", cli,
                      re.S | re.M)  # the "Points" section of jifen report
    assert flows and [int(x) for x in flows.groups()] == [dash["issued"], dash["redeemed"],
                                                           dash["expired"]]


def test_an_item_created_in_the_console_is_in_chat_mall(browser: Any, page: Any, live: Live,
                                                        ) -> None:
    """HR creates an item on the catalog page; an employee then finds it by typing 商城 in chat
    (the playground: the same dispatcher and catalog reply as WeCom and DingTalk)."""
    from playwright.sync_api import expect

    page.goto(f"{live.base}/admin/catalog/new")
    page.fill("input[name=sku]", "TEAPOT9")
    page.fill("input[name=name]", "紫砂茶壶")
    page.fill("input[name=points]", "120")
    page.fill("input[name=category]", "生活")
    page.fill("input[name=stock]", "5")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".notice")).to_contain_text("已保存")
    assert page.url.startswith(f"{live.base}/admin/catalog/TEAPOT9")
    page.goto(f"{live.base}/admin/catalog")
    expect(page.locator("main")).to_contain_text("紫砂茶壶")

    chat = browser.new_context(locale="zh-CN").new_page()
    chat.goto(f"{live.base}/playground?as=E004")
    expect(chat.locator("body[data-ready='1']")).to_have_count(1)
    chat.locator("button[data-text='商城']").click()
    reply = chat.locator("#log")
    expect(reply).to_contain_text("紫砂茶壶", timeout=15_000)
    expect(reply).to_contain_text("TEAPOT9")
    expect(reply).to_contain_text("120")
    chat.context.close()


def test_a_refused_item_keeps_what_was_typed(page: Any, live: Live) -> None:
    """One bad field (the price): the refusal is shown and every other field still holds what
    was typed, so only the price needs fixing; nothing is stored until it is right."""
    from playwright.sync_api import expect

    typed = {"sku": "LAMP7", "name": "护眼台灯", "points": "-5", "category": "生活",
             "stock": "12", "limit_per_employee": "2", "image_url": "https://example.com/l.png",
             "available_from": "2030-01-01", "available_until": "2030-02-01"}
    page.goto(f"{live.base}/admin/catalog/new")
    for name, value in typed.items():
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=kind]", "service")
    page.check("input[name=requires_approval]")
    page.fill("textarea[name=description]", "三档调光\n可夹在桌边")
    page.get_by_role("button", name="保存").click()

    expect(page.locator(".problem")).to_have_text("points：「-5」不是正整数")
    for name, value in typed.items():
        expect(page.locator(f"input[name={name}]")).to_have_value(value)
    expect(page.locator("select[name=kind]")).to_have_value("service")
    expect(page.locator("input[name=requires_approval]")).to_be_checked()
    expect(page.locator("textarea[name=description]")).to_have_value("三档调光\n可夹在桌边")
    page.screenshot(path=str(live.shots / "catalog-item-refused.png"), full_page=True)
    assert live.query(lambda s: s.get(CatalogItem, "LAMP7")) is None

    page.fill("input[name=points]", "150")  # fix the one wrong field only
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".notice")).to_contain_text("已保存")
    item = live.query(lambda s: s.get(CatalogItem, "LAMP7"))
    assert (item.name, item.points, item.kind, item.stock, item.requires_approval) == (
        "护眼台灯", 150, "service", 12, True)
