"""The first run: ``jifen run`` says where to click, ``/`` leads to the playground, the console
stays quiet, and the demo has a broadcast target and this month's awards."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import WORKER_KEY, build, load_effective_policy
from bot.app.demo import load_demo
from config.settings import Settings
from core.db import Database
from core.policy import Policy
from core.reports.service import leaderboard
from core.timeutil import month_bounds, month_key
from tests.conftest import ROOT

Client = TestClient[web.Request, web.Application]
DEADLINE_S = 120.0  # a bound on waiting for the process, not an assertion about speed


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", _env_file=None,  # type: ignore[call-arg]
                    policy_file=str(ROOT / "config" / "policy.yaml"), **extra)


async def test_home_redirects_to_the_playground_or_the_console(
        tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> None:
    on = await aiohttp_client(await build(_settings(tmp_path), background=False))
    resp = await on.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/playground/")
    assert (await on.get("/")).status == 200  # the playground page itself

    (tmp_path / "off").mkdir()
    off = await aiohttp_client(await build(_settings(tmp_path / "off", playground=False),
                                           background=False))
    resp = await off.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/admin")


async def test_demo_broadcast_reaches_every_playground_user(
        tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> None:
    client = await aiohttp_client(await build(_settings(tmp_path), background=False))

    async def send(who: str, text: str) -> list[dict[str, Any]]:
        resp = await client.post("/playground/api/send", json={"as": who, "text": text})
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["cards"])

    async def inbox(who: str) -> list[dict[str, Any]]:
        await client.app[WORKER_KEY].run_once()
        resp = await client.get("/playground/api/inbox", params={"as": who})
        return list((await resp.json())["cards"])

    await inbox("E004")  # E004 has the playground open before the broadcast
    replies = await send("E002", "广播 周五下午茶，欢迎参加")  # 林芳 is HR
    assert "演示群" in str(replies), replies
    for who in ("E004", "E008"):  # one who was polling, one who opens the playground later
        cards = await inbox(who)
        assert any("周五下午茶" in str(card) for card in cards), (who, cards)
    assert not any("周五下午茶" in str(card) for card in await inbox("E004"))  # seen once

    board = await send("E004", "排行")  # the demo's awards are this month's
    assert "刘洋" in str(board) and "Alice Chen" in str(board), board


async def test_demo_awards_fall_in_the_month_even_on_its_first_day(db: Database, policy: Policy) -> None:
    first_minute = month_bounds("2026-03", policy)[0] + timedelta(minutes=1)
    await load_demo(db, policy, now=first_minute)
    async with db.uow() as s:
        board = await leaderboard(s, period="month", department=None, now=first_minute,
                                  policy=policy)
    # E003's 20 to E004 and E006 and E007's 30 to E008 (the 60 waits for approval)
    assert {(row.employee_id, row.points) for row in board} == {("E004", 20), ("E006", 20),
                                                                ("E008", 30)}
    assert month_key(first_minute, policy) == "2026-03"


def test_playground_target_only_when_the_playground_is_the_only_platform(tmp_path: Path) -> None:
    alone = load_effective_policy(_settings(tmp_path))
    assert [(t.name, t.platform) for t in alone.broadcast.targets] == [("演示群", "playground")]
    off = load_effective_policy(_settings(tmp_path, playground=False))
    assert off.broadcast.targets == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_jifen_run_prints_one_ready_line_and_keeps_the_console_quiet(tmp_path: Path) -> None:
    port = _free_port()
    exe = shutil.which("jifen", path=str(Path(sys.executable).parent))
    cmd = [exe, "run"] if exe else [sys.executable, "-m", "bot.cli", "run"]
    log = tmp_path / "run.log"
    env = {**os.environ, "JIFEN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/j.db",
           "JIFEN_HTTP_PORT": str(port), "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}
    for name in ("JIFEN_WECOM_CORP_ID", "JIFEN_DINGTALK_CLIENT_ID", "JIFEN_PLAYGROUND",
                 "JIFEN_PUBLIC_URL"):
        env.pop(name, None)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = f"jifen is ready — playground {base}/playground/ · console {base}/admin"
        deadline = time.monotonic() + DEADLINE_S
        while ready not in log.read_text(encoding="utf-8"):
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.2)
        for _ in range(3):  # what the playground page does every 2 seconds
            with urllib.request.urlopen(f"{base}/playground/api/inbox?as=E001") as resp:
                assert resp.status == 200
        with urllib.request.urlopen(f"{base}/") as resp:  # followed to the playground
            assert resp.url == f"{base}/playground/"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=DEADLINE_S)
    text = log.read_text(encoding="utf-8")
    assert sum("jifen is ready" in line for line in text.splitlines()) == 1, text
    assert "alembic" not in text and "apscheduler" not in text, text
    assert "/playground/api/inbox" not in text, text
    assert 'GET / HTTP' in text  # other requests are still logged
    assert "Traceback" not in text, text
