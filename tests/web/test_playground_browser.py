"""The playground page end to end in the one session Chromium, against the real ``jifen run``:
redeem and confirm with the card's button, then the order's push arrives from the background
outbox worker while the page polls."""

from __future__ import annotations

from typing import Any

from tests.web.browser import BROWSER_MARKS, Live

pytestmark = BROWSER_MARKS
WAIT = 20_000  # ms; Playwright polls until then (the outbox worker delivers in the background)


def test_redeem_in_the_playground(browser: Any, live: Live) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1000, "height": 820}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{live.base}/playground")
        expect(page.locator("body[data-ready='1']")).to_have_count(1)
        page.select_option("#employee", "E006")
        page.fill("#text", "兑换 CUP01")
        page.press("#text", "Enter")
        confirm = page.locator(".card-redemption_confirm").last
        expect(confirm).to_contain_text("定制马克杯")
        confirm.get_by_role("button", name="确认兑换").click()
        expect(page.locator(".card-order_status").last).to_contain_text("待发货")
        page.screenshot(path=str(live.shots / "playground.png"))
        expect(page.locator(".row-push .badge").first).to_contain_text("通知", timeout=WAIT)
        page.screenshot(path=str(live.shots / "playground-pushes.png"))
    finally:
        context.close()
    assert (live.shots / "playground.png").stat().st_size > 0
