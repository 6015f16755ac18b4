"""kill -9 under load loses no ACKed DingTalk Stream frame: a real ``jifen run`` process in Stream
mode is connected to the loopback fake gateway, which pushes many bot-message frames back to back
(each an HR grant of 1 point) and, as DingTalk does, keeps every frame until its ACK arrives and
sends it again on the next connection. The process is killed with SIGKILL once a third of the
frames are ACKed and started again. Afterwards every frame is ACKed, every ACKed frame has its
effect exactly once (no loss, no duplicate), and the ledger verifies.

No timed assertions: the test only waits (with a generous bound) for states to be reached.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.platforms.dingtalk.parse import TOPIC_BOT_MESSAGE
from tests.cli_helpers import jifen
from tests.conftest import ROOT
from tests.e2e.test_kill import DEADLINE_S, _effects, _free_port, _pending, _seed, _start, _until_up
from tests.fakes.dingtalk_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeDingTalk,
    bot_message,
    callback_frame,
)

FRAMES = 150


async def _until(what: str, predicate: Callable[[], object]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():  # noqa: ASYNC110 - the fake changes state in its own thread
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


def _frames(dt: FakeDingTalk) -> list[dict[str, Any]]:
    return [callback_frame(bot_message(text="发放 @E006 1 感谢", msg_id=f"st-{i}",
                                       sender="dt_linfang", webhook=dt.session_webhook()),
                           topic=TOPIC_BOT_MESSAGE, message_id=f"frame-{i}")
            for i in range(FRAMES)]


def _acked(dt: FakeDingTalk) -> set[str]:
    """The inbox keys of the frames DingTalk has received a 200 ACK for."""
    ids = {str((a.get("headers") or {}).get("messageId")) for a in list(dt.acks)
           if a.get("code") == 200}
    return {f"evt:dingtalk:st-{i.removeprefix('frame-')}" for i in ids if i.startswith("frame-")}


def _env(db_url: str, port: int, dt: FakeDingTalk) -> dict[str, str]:
    return {"JIFEN_DATABASE_URL": db_url, "JIFEN_HTTP_PORT": str(port),
            "JIFEN_DINGTALK_CLIENT_ID": CLIENT_ID, "JIFEN_DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
            "JIFEN_DINGTALK_MODE": "stream", "JIFEN_DINGTALK_API_BASE": dt.base_url,
            "JIFEN_INBOX_LEASE_SECONDS": "2", "JIFEN_PLAYGROUND": "false",
            "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}


async def test_kill_9_under_stream_load_loses_no_acked_frame(db_url: str,
                                                               tmp_path: Path) -> None:
    db = await _seed(db_url)
    port, log = _free_port(), tmp_path / "jifen.log"
    base = f"http://127.0.0.1:{port}"
    sent = {f"evt:dingtalk:st-{i}" for i in range(FRAMES)}
    try:
        with FakeDingTalk(redeliver=True) as dt:
            env = _env(db_url, port, dt)
            _, before = await _effects(db, set())
            proc = _start(env, log)
            async with aiohttp.ClientSession() as http:
                await _until_up(http, base, proc)
            await _until("the stream connected", lambda: dt.connected)
            await asyncio.to_thread(dt.push_many, _frames(dt))
            await _until("a third of the frames ACKed", lambda: len(_acked(dt)) >= FRAMES // 3)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            acked_at_kill, unacked_at_kill = _acked(dt), dt.unacked
            print(f"killed with {len(acked_at_kill)} of {FRAMES} frames ACKed; "
                  f"{await _pending(db)} stored events unprocessed")
            assert unacked_at_kill, "every frame was ACKed before the kill: nothing was tested"
            await _until("the gateway saw the socket die", lambda: not dt.connected)
            proc = _start(env, log)
            try:
                async with aiohttp.ClientSession() as http:
                    await _until_up(http, base, proc)
                await _until("every frame ACKed after redelivery", lambda: not dt.unacked)
                deadline = time.monotonic() + DEADLINE_S
                while await _pending(db) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            acked = _acked(dt)
        assert await _pending(db) == 0
        done, after = await _effects(db, sent)
        print(f"{len(acked)} ACKed in all, {len(done)} processed, {after - before} grants")
        assert acked_at_kill <= done, f"ACKed but lost: {sorted(acked_at_kill - done)[:5]}"
        assert acked == sent == done  # the unACKed rest was redelivered and processed
        assert after - before == FRAMES  # one grant per frame: nothing twice
        assert jifen("ledger", "verify", db_url=db_url).returncode == 0
    finally:
        await db.dispose()
