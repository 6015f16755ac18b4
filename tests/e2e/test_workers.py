"""``jifen run --workers 2``: two serving processes on one port and one database. Signed,
encrypted WeCom callbacks (HR grants of 1 point) arrive concurrently; one worker is killed with
SIGKILL while they arrive and the supervisor starts another; every acknowledged message has its
effect exactly once, one worker leads, and SIGTERM stops them all.

No timed assertions: waits have generous deadlines.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from core.leader import FileLock, lock_path
from tests.cli_helpers import jifen
from tests.conftest import ROOT
from tests.e2e.test_kill import _effects, _free_port, _pending, _seed, _until_up, _wecom
from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComAPI

DEADLINE_S = 120.0  # a bound on waiting, not an assertion


def _workers(supervisor: int) -> set[int]:
    """The supervisor's serving children (not multiprocessing's resource tracker)."""
    found = set()
    for pid in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:  # exited meanwhile
            continue
        if b"spawn_main" in cmdline:
            found.add(int(pid))
    return found


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("jifen")
    cmd = [exe] if exe else [sys.executable, "-m", "bot.cli"]
    with log.open("ab") as out:
        return subprocess.Popen([*cmd, "run", "--workers", "2"], env={**os.environ, **env},
                                stdout=out, stderr=out)


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


async def _until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.2)


async def _burst(base: str, ids: list[str], acked: set[str]) -> None:
    """Send every callback at once; the keys of those answered 200 go into ``acked``."""
    async def one(http: aiohttp.ClientSession, msg_id: str) -> None:
        try:
            if await _wecom(http, base, msg_id) == 200:
                acked.add(f"evt:wecom:{msg_id}")
        except (TimeoutError, aiohttp.ClientError):
            pass  # not acknowledged: WeCom would send it again

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await asyncio.gather(*(one(http, i) for i in ids))


async def test_two_workers_serve_one_database_and_survive_a_killed_worker(
        db_url: str, tmp_path: Path) -> None:
    db = await _seed(db_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with FakeWeComAPI() as api:
            env = {"JIFEN_DATABASE_URL": db_url, "JIFEN_HTTP_PORT": str(port),
                   "JIFEN_WECOM_CORP_ID": CORP_ID, "JIFEN_WECOM_AGENT_ID": str(AGENT_ID),
                   "JIFEN_WECOM_SECRET": SECRET, "JIFEN_WECOM_TOKEN": TOKEN,
                   "JIFEN_WECOM_AES_KEY": AES_KEY, "JIFEN_WECOM_API_BASE": api.base_url,
                   "JIFEN_INBOX_LEASE_SECONDS": "2", "JIFEN_PLAYGROUND": "false",
                   "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}
            log = tmp_path / "jifen.log"
            proc = _start(env, log)
            try:
                async with aiohttp.ClientSession() as http:
                    await _until_up(http, base, proc)
                await _until(lambda: "(2 workers)" in log.read_text(), "the ready line")
                first = _workers(proc.pid)
                assert len(first) == 2
                if db_url.startswith("sqlite"):  # one of them leads: the flock is taken
                    assert FileLock(lock_path(db_url)).held() is False

                _, before = await _effects(db, set())
                sent = [f"w-{i}" for i in range(100)] + [f"x-{i}" for i in range(40)]
                acked: set[str] = set()
                load = asyncio.ensure_future(_burst(base, sent[:100], acked))
                await _until(lambda: len(acked) >= 20 or load.done(), "the first answers")
                victim = min(first)
                os.kill(victim, signal.SIGKILL)  # mid-burst: its unanswered requests fail
                await load
                await _until(lambda: len(_workers(proc.pid) - {victim}) == 2, "a new worker")
                assert proc.poll() is None
                await _burst(base, sent[100:], acked)  # both serve again
                serving = _workers(proc.pid)
                deadline = time.monotonic() + DEADLINE_S
                while await _pending(db) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                assert await _pending(db) == 0
                done, after = await _effects(db, {f"evt:wecom:{i}" for i in sent})
                assert len(acked) >= 60, log.read_text()[-2000:]
                assert acked <= done, f"acknowledged but lost: {sorted(acked - done)[:5]}"
                assert after - before == len(done)  # each processed message granted once
                assert "starting another" in log.read_text()
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=60) == 0
            assert not _alive(serving)
        assert jifen("ledger", "verify", db_url=db_url).returncode == 0
    finally:
        await db.dispose()


async def test_workers_stop_by_themselves_when_their_supervisor_is_killed(
        tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "jifen.log"
    env = {"JIFEN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'j.db'}",
           "JIFEN_HTTP_PORT": str(port), "JIFEN_WECOM_CORP_ID": CORP_ID,
           "JIFEN_WECOM_AGENT_ID": str(AGENT_ID), "JIFEN_WECOM_SECRET": SECRET,
           "JIFEN_WECOM_TOKEN": TOKEN, "JIFEN_WECOM_AES_KEY": AES_KEY,
           "JIFEN_WECOM_API_BASE": "http://127.0.0.1:9/", "JIFEN_PLAYGROUND": "false",
           "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}
    proc = _start(env, log)
    workers: set[int] = set()
    try:
        await _until(lambda: "(2 workers)" in log.read_text(), "the ready line")
        workers = _workers(proc.pid)
        assert len(workers) == 2
        proc.kill()  # SIGKILL: the supervisor cannot stop them
        proc.wait()
        await _until(lambda: not _alive(workers), "the orphaned workers to stop")
    finally:
        proc.kill()
        for pid in _alive(workers):
            os.kill(pid, signal.SIGKILL)
