"""kill -9 under load loses no acknowledged message: a real ``jifen run`` process gets many
concurrent signed, encrypted WeCom callbacks and signed DingTalk HTTP callbacks (each an HR grant
of 1 point), is killed with SIGKILL while they arrive, and is started again. Every message that
got a 200 has its effect exactly once afterwards, and the ledger verifies.

No timed assertions: the test waits (with a generous deadline) for the restarted process to
empty its inbox, then counts rows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.app.demo import load_demo
from bot.platforms.dingtalk.signature import sign
from config.policy_loader import load_policy
from core.db import Database
from core.models import InboxEvent, LedgerTransaction, utcnow
from tests.cli_helpers import jifen
from tests.conftest import ROOT, _reset_postgres
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk, bot_message
from tests.fakes.wecom_server import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeComAPI,
    WeComCallbackSender,
    text_xml,
)

PER_PLATFORM = 120
DEADLINE_S = 180.0  # only a bound on waiting for the restarted process, not an assertion
_stamps = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("jifen")
    cmd = [exe, "run"] if exe else [sys.executable, "-m", "bot.cli", "run"]
    out = log.open("ab")
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=out)


async def _until_up(http: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "jifen run exited"
        try:
            async with http.get(f"{base}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("jifen run did not come up")


async def _wecom(http: aiohttp.ClientSession, base: str, msg_id: str) -> int:
    req = WeComCallbackSender().message(text_xml(user="linfang", content="发放 @E006 1 感谢",
                                                 msg_id=msg_id))
    async with http.post(f"{base}/wecom/callback?{req.query_string}", data=req.body) as resp:
        return resp.status


async def _dingtalk(http: aiohttp.ClientSession, base: str, msg_id: str) -> int:
    stamp = int(time.time() * 1000) - next(_stamps)  # each timestamp/sign pair is used once
    body = bot_message(text="发放 @E006 1 感谢", msg_id=msg_id, sender="dt_linfang")
    headers = {"timestamp": str(stamp), "sign": sign(stamp, CLIENT_SECRET),
               "Content-Type": "application/json"}
    async with http.post(f"{base}/dingtalk/callback", data=json.dumps(body),
                         headers=headers) as resp:
        return resp.status


async def _send(http: aiohttp.ClientSession, base: str, platform: str, msg_id: str,
                acked: set[str], enough: asyncio.Event, third: int) -> None:
    try:
        status = await (_wecom if platform == "wecom" else _dingtalk)(http, base, msg_id)
    except (TimeoutError, aiohttp.ClientError):
        return  # no answer: not acknowledged (the platform would redeliver)
    if status == 200:
        acked.add(f"evt:{platform}:{msg_id}")
        if len(acked) >= third:
            enough.set()


async def _load(base: str, proc: subprocess.Popen[bytes]) -> tuple[set[str], set[str]]:
    """Fire every callback at once and SIGKILL the process once a third has been acked."""
    acked: set[str] = set()
    sent = {f"evt:{p}:{p}-{i}" for p in ("wecom", "dingtalk") for i in range(PER_PLATFORM)}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=100)) as http:
        enough = asyncio.Event()
        tasks = [asyncio.ensure_future(_send(http, base, p, f"{p}-{i}", acked, enough,
                                             len(sent) // 3))
                 for i in range(PER_PLATFORM) for p in ("wecom", "dingtalk")]
        everything = asyncio.gather(*tasks)

        async def all_done() -> None:
            await everything

        waiter = asyncio.ensure_future(enough.wait())
        finisher = asyncio.ensure_future(all_done())
        await asyncio.wait([waiter, finisher],
                           return_when=asyncio.FIRST_COMPLETED)
        proc.send_signal(signal.SIGKILL)
        print(f"killed with {len(acked)} of {len(sent)} acknowledged")
        proc.wait()
        await everything
        waiter.cancel()
    return sent, acked


async def _pending(db: Database) -> int:
    async with db.uow() as s:
        return await s.scalar(select(func.count()).select_from(InboxEvent)
                              .where(InboxEvent.state == "pending")) or 0


async def _settle(db: Database, http: aiohttp.ClientSession, base: str,
                  proc: subprocess.Popen[bytes]) -> None:
    await _until_up(http, base, proc)
    deadline = time.monotonic() + DEADLINE_S
    while await _pending(db) and time.monotonic() < deadline:  # noqa: ASYNC110 - a DB poll
        await asyncio.sleep(0.5)


async def _seed(db_url: str) -> Database:
    db = Database(db_url)
    if not db.is_sqlite:
        await _reset_postgres(db)
    await load_demo(db, load_policy(ROOT / "config" / "policy.yaml"), now=utcnow())
    return db


async def _effects(db: Database, sent: set[str]) -> tuple[set[str], int]:
    async with db.uow() as s:
        keys = set(await s.scalars(select(InboxEvent.key).where(InboxEvent.key.in_(sent),
                                                                InboxEvent.state == "done")))
        grants = await s.scalar(select(func.count()).select_from(LedgerTransaction)) or 0
        return keys, grants


async def test_kill_9_under_load_loses_no_acknowledged_message(db_url: str,
                                                                tmp_path: Path) -> None:
    db = await _seed(db_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with FakeWeComAPI() as api:
            with FakeDingTalk() as dt:
                env = {"JIFEN_DATABASE_URL": db_url, "JIFEN_HTTP_PORT": str(port),
                       "JIFEN_WECOM_CORP_ID": CORP_ID, "JIFEN_WECOM_AGENT_ID": str(AGENT_ID),
                       "JIFEN_WECOM_SECRET": SECRET, "JIFEN_WECOM_TOKEN": TOKEN,
                       "JIFEN_WECOM_AES_KEY": AES_KEY, "JIFEN_WECOM_API_BASE": api.base_url,
                       "JIFEN_DINGTALK_CLIENT_ID": CLIENT_ID,
                       "JIFEN_DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
                       "JIFEN_DINGTALK_MODE": "http", "JIFEN_DINGTALK_API_BASE": dt.base_url,
                       "JIFEN_INBOX_LEASE_SECONDS": "2", "JIFEN_PLAYGROUND": "false",
                       "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}
                _, before = await _effects(db, set())
                log = tmp_path / "jifen.log"
                proc = _start(env, log)
                async with aiohttp.ClientSession() as http:
                    await _until_up(http, base, proc)
                sent, acked = await _load(base, proc)
                print(f"{await _pending(db)} stored events unprocessed at the kill")
                proc = _start(env, log)
                try:
                    async with aiohttp.ClientSession() as http:
                        await _settle(db, http, base, proc)
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
        assert await _pending(db) == 0
        done, after = await _effects(db, sent)
        print(f"{len(acked)} acknowledged, {len(done)} processed, {after - before} grants")
        assert acked, "nothing was acknowledged before the kill"
        assert acked <= done, f"acknowledged but lost: {sorted(acked - done)[:5]}"
        assert after - before == len(done)  # every processed message granted exactly once
        assert jifen("ledger", "verify", db_url=db_url).returncode == 0
    finally:
        await db.dispose()
