"""One end-to-end run of the page in headless Chromium (Debian's /usr/bin/chromium, never a
downloaded browser), driven by the ``playwright`` package against the real app on loopback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import WORKER_KEY

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="needs the playwright package (pip install playwright; no browser download)"),
]


async def test_redeem_in_the_browser(app: web.Application, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 820})
            await page.goto(str(server.make_url("/playground")))
            await expect(page.locator("body[data-ready='1']")).to_have_count(1)
            await page.select_option("#employee", "E006")
            await page.fill("#text", "兑换 CUP01")
            await page.press("#text", "Enter")
            confirm = page.locator(".card-redemption_confirm").last
            await expect(confirm).to_contain_text("定制马克杯")
            await confirm.get_by_role("button", name="确认兑换").click()
            order = page.locator(".card-order_status").last
            await expect(order).to_contain_text("待发货")
            await page.screenshot(path=str(tmp_path / "playground.png"))
            await app[WORKER_KEY].run_once()  # no background worker in tests; the page polls
            await expect(page.locator(".row-push .badge").first).to_contain_text("通知")
            await page.screenshot(path=str(tmp_path / "playground-pushes.png"))
            await browser.close()
    finally:
        await server.close()
    assert (tmp_path / "playground.png").stat().st_size > 0
    assert (tmp_path / "playground-pushes.png").stat().st_size > 0
