"""``jifen chat --as <id>``: the real console script, and the loop in process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.cli.chat import run_chat
from tests.platforms.playground.conftest import ROOT, playground_settings


def jifen(*args: str, db_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("jifen")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "bot.cli", *args]
    env = {**os.environ, "JIFEN_DATABASE_URL": db_url}
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120, check=False)


def test_chat_through_the_console_script(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    assert jifen("demo", db_url=url).returncode == 0
    done = jifen("chat", "--as", "E004", db_url=url, stdin="积分\n赞 @刘洋 10分 谢谢帮忙\nquit\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "王伟（E004，研发部）" in out
    assert "我的积分" in out and "余额：520 分" in out
    assert "或回复：商城" in out  # the balance card's button as its text command
    assert "点赞成功" in out and "刘洋 收到 10 分" in out
    assert "[通知 Notification]" in out  # the demo's welcome push for E004
    assert "Traceback" not in done.stderr


def test_chat_as_unknown_employee_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    assert jifen("demo", db_url=url).returncode == 0
    done = jifen("chat", "--as", "NOPE", db_url=url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["jifen: unknown employee: NOPE (see 'jifen employees import')"]


class Script:
    def __init__(self, lines: list[str]) -> None:
        self.lines: Iterator[str] = iter(lines)

    async def __call__(self, prompt: str) -> str | None:
        return next(self.lines, None)


async def test_button_fallbacks_and_pushes_in_process(tmp_path: Path) -> None:
    out: list[str] = []
    lines = ["", "兑换 CUP01", "审批", "exit", "积分"]
    code = await run_chat(playground_settings(tmp_path), "E003", read=Script(lines), write=out.append)
    text = "\n".join(out)
    assert code == 0
    assert "确认兑换" in text and "或回复：确认 " in text  # the buttons' text fallbacks
    assert "或回复：同意 A1 / 拒绝 A1" in text  # the demo's pending award waits for 赵磊
    assert "我的积分" not in text  # stopped at "exit"


async def test_end_of_input_ends_the_chat(tmp_path: Path) -> None:
    out: list[str] = []
    assert await run_chat(playground_settings(tmp_path), "E008", read=Script([]), write=out.append) == 0
    assert "Alice Chen" in out[0]
