"""The HR console in Debian's Chromium (/usr/bin/chromium, never a downloaded browser), driven
by Playwright against a real ``jifen run`` on loopback. One browser for the whole session."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import LedgerTransaction, Order, OutboxMessage
from tests.cli_helpers import jifen

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="needs the playwright package (pip install playwright; no browser download)"),
]


class Live:
    def __init__(self, base: str, db_url: str, env: dict[str, str], shots: Path) -> None:
        self.base, self.db_url, self.env, self.shots = base, db_url, env, shots

    def link(self, employee_id: str = "E002") -> str:
        out = jifen("login-link", employee_id, "--admin", db_url=self.db_url, env=self.env)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def query(self, fn: Any) -> Any:
        async def go() -> Any:
            db = Database(self.db_url)
            try:
                async with db.uow() as s:
                    return await fn(s)
            finally:
                await db.dispose()

        # sync Playwright keeps an event loop on this thread; the database is read from another
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # polling for readiness, not timing anything
        if proc.poll() is not None:
            raise RuntimeError("jifen run exited early")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("jifen run did not become healthy")


# Module scope, not session: sync Playwright keeps an event loop on the main thread while it is
# open, which would stop every async test that runs after this module. One browser still serves
# every console browser test.
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``jifen demo`` then ``jifen run`` (migrations, outbox worker, scheduler) on a free port."""
    tmp = tmp_path_factory.mktemp("console")
    port = _free_port()
    db_url = f"sqlite+aiosqlite:///{tmp}/j.db"
    env = {"JIFEN_HTTP_PORT": str(port), "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml"),
           "JIFEN_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    assert jifen("demo", db_url=db_url, env=env).returncode == 0
    log = (tmp / "run.log").open("wb")
    proc = subprocess.Popen([*_jifen_cmd(), "run"], env={**os.environ, **env,
                                                         "JIFEN_DATABASE_URL": db_url},
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        shots = Path(os.environ.get("JIFEN_SCREENSHOTS", tmp))
        shots.mkdir(parents=True, exist_ok=True)
        yield Live(f"http://127.0.0.1:{port}", db_url, env, shots)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _jifen_cmd() -> list[str]:
    import shutil
    import sys

    exe = shutil.which("jifen")
    return [exe] if exe else [sys.executable, "-m", "bot.cli"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


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
    flows = re.search(r"issued (\d+)\s+redeemed (\d+)\s+expired (\d+)", cli)
    assert flows and [int(x) for x in flows.groups()] == [dash["issued"], dash["redeemed"],
                                                           dash["expired"]]
