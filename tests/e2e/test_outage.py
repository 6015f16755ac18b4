"""Infrastructure errors are never a silent success, with a database that is really unavailable
under a real ``jifen run`` process (WeCom and DingTalk Stream or HTTP mode configured):

* PostgreSQL: jifen reaches the server through a TCP proxy on 127.0.0.1 that the test closes —
  every open connection is cut and new ones are refused (ECONNREFUSED) — and opens again.
* SQLite: the process's file-size limit is set to 0 (``prlimit``), so every write of its database
  fails with SQLite's "disk I/O error", as on a full or failing disk; reads still work.

During the outage a valid award on each platform gets that platform's "try again" answer (WeCom
500, DingTalk HTTP 503, Stream no ACK) and changes nothing. Once the database is back, the
platform's redelivery (the same MsgId; the identical DingTalk request, same timestamp/sign; the
unACKed frame sent again) has exactly one effect, and the ledger verifies. On PostgreSQL the
outage also strikes an acknowledged event while it is being processed: it stays in the inbox and
is processed once when the database is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.platforms.dingtalk.parse import TOPIC_BOT_MESSAGE
from bot.platforms.dingtalk.signature import sign
from core.db import Database
from core.models import InboxEvent
from tests.cli_helpers import jifen
from tests.conftest import ROOT
from tests.e2e.test_kill import DEADLINE_S, _effects, _free_port, _seed, _until_up
from tests.fakes.dingtalk_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeDingTalk,
    bot_message,
    callback_frame,
)
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

AWARD = "发放 @E006 1 感谢"
NOT_ACKED = "stream event could not be stored; not ACKed"


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL; ``down()`` makes the database refuse."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening (new connections are refused) and cut every open connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        await self._server.wait_closed()

    async def close(self) -> None:
        if self._server is not None and self._server.is_serving():
            await self.down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._pipes -= {writer, up_writer}
            writer.transport.abort()
            up_writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()  # one side gone: the other goes too, as a cut cable would


class Process:
    """``jifen run`` with its log read through a pipe (a pipe is not a file: the SQLite outage,
    a file-size limit, does not silence it)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        exe = shutil.which("jifen")
        cmd = [exe, "run"] if exe else [sys.executable, "-m", "bot.cli", "run"]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._log = log
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self._log.open("ab") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                self.lines.append(raw.decode("utf-8", "replace"))

    def said(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def fsize_limit(self, limit: int) -> None:
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    async def stop(self) -> None:
        """SIGTERM and wait without blocking the loop (the proxy runs on it)."""
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.proc.wait, 60)
        await asyncio.to_thread(self._reader.join, 10)


async def _until(what: str, predicate: Callable[[], object]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():  # noqa: ASYNC110 - other threads and processes change the state
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


class Messages:
    """One valid award per platform, each kept so that it can be redelivered identically."""

    def __init__(self, base: str, dt: FakeDingTalk, mode: str) -> None:
        self.base, self.dt, self.mode = base, dt, mode
        self.wecom = text_xml(user="linfang", content=AWARD, msg_id="outage-w")
        stamp = int(time.time() * 1000)
        self.ding_headers = {"timestamp": str(stamp), "sign": sign(stamp, CLIENT_SECRET),
                             "Content-Type": "application/json"}
        self.ding = bot_message(text=AWARD, msg_id="outage-d", sender="dt_linfang",
                                webhook=dt.session_webhook())
        self.keys = {"evt:wecom:outage-w", "evt:dingtalk:outage-d"}

    async def post_wecom(self, http: aiohttp.ClientSession) -> int:
        req = WeComCallbackSender().message(self.wecom)
        async with http.post(f"{self.base}/wecom/callback?{req.query_string}",
                             data=req.body) as resp:
            return resp.status

    async def post_dingtalk(self, http: aiohttp.ClientSession) -> int:
        async with http.post(f"{self.base}/dingtalk/callback", data=json.dumps(self.ding),
                             headers=self.ding_headers) as resp:
            return resp.status

    def push_frame(self) -> None:
        self.dt.push(callback_frame(self.ding, topic=TOPIC_BOT_MESSAGE, message_id="frame-out"))


async def _stored(db: Database, keys: set[str]) -> tuple[int, int]:
    """(inbox rows, rows answered) for ``keys``."""
    async with db.uow() as s:
        rows = await s.scalar(select(func.count()).select_from(InboxEvent)
                              .where(InboxEvent.key.in_(keys))) or 0
        done = await s.scalar(select(func.count()).select_from(InboxEvent)
                              .where(InboxEvent.key.in_(keys), InboxEvent.state == "done")) or 0
        return int(rows), int(done)


def _env(db_url: str, port: int, api_base: str, dt: FakeDingTalk, mode: str) -> dict[str, str]:
    return {"JIFEN_DATABASE_URL": db_url, "JIFEN_HTTP_PORT": str(port),
            "JIFEN_WECOM_CORP_ID": CORP_ID, "JIFEN_WECOM_AGENT_ID": str(AGENT_ID),
            "JIFEN_WECOM_SECRET": SECRET, "JIFEN_WECOM_TOKEN": TOKEN,
            "JIFEN_WECOM_AES_KEY": AES_KEY, "JIFEN_WECOM_API_BASE": api_base,
            "JIFEN_DINGTALK_CLIENT_ID": CLIENT_ID, "JIFEN_DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
            "JIFEN_DINGTALK_MODE": mode, "JIFEN_DINGTALK_API_BASE": dt.base_url,
            "JIFEN_PLAYGROUND": "false", "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml")}


async def _refused(msgs: Messages, proc: Process, http: aiohttp.ClientSession) -> None:
    """Each platform's message during the outage gets that platform's "try again"."""
    assert await msgs.post_wecom(http) == 500  # WeCom redelivers a non-200 (platforms.md §3.4)
    if msgs.mode == "http":
        assert await msgs.post_dingtalk(http) == 503  # DingTalk HTTP: a retryable status
        return
    msgs.push_frame()
    await _until("the frame refused", lambda: proc.said(NOT_ACKED))
    assert msgs.dt.unacked == ["frame-out"]  # no ACK: DingTalk keeps it for redelivery


async def _redelivered(msgs: Messages, http: aiohttp.ClientSession) -> None:
    assert await msgs.post_wecom(http) == 200
    if msgs.mode == "http":
        assert await msgs.post_dingtalk(http) == 200  # the identical request: same pair
        return
    await asyncio.to_thread(msgs.dt.redeliver_unacked)
    await _until("the redelivered frame ACKed", lambda: not msgs.dt.unacked)


@pytest.mark.parametrize("mode", ["stream", "http"])
async def test_an_unavailable_database_is_never_a_silent_success(
        db_url: str, mode: str, tmp_path: Path) -> None:
    db = await _seed(db_url)
    proxy: Proxy | None = None
    app_url = db_url
    if not db.is_sqlite:
        url = make_url(db_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.up()
        app_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with FakeWeComAPI() as api:
            with FakeDingTalk(redeliver=True) as dt:
                msgs = Messages(base, dt, mode)
                _, before = await _effects(db, msgs.keys)
                proc = Process(_env(app_url, port, api.base_url, dt, mode), tmp_path / "jifen.log")
                try:
                    async with aiohttp.ClientSession() as http:
                        await _until_up(http, base, proc.proc)
                        if mode == "stream":
                            await _until("the stream connected", lambda: dt.connected)
                        if proxy is not None:
                            await proxy.down()
                        else:
                            proc.fsize_limit(0)
                        await _refused(msgs, proc, http)
                        assert await _stored(db, msgs.keys) == (0, 0)  # nothing, not even stored
                        assert (await _effects(db, msgs.keys))[1] == before
                        if proxy is not None:
                            await proxy.up()
                        else:
                            proc.fsize_limit(resource.RLIM_INFINITY)
                        await _redelivered(msgs, http)
                        await _until_processed(db, msgs.keys)
                finally:
                    await proc.stop()
        done, after = await _effects(db, msgs.keys)
        assert done == msgs.keys and after - before == 2  # one grant per message, not two
        assert jifen("ledger", "verify", db_url=db_url).returncode == 0
    finally:
        if proxy is not None:
            await proxy.close()
        await db.dispose()


async def _until_processed(db: Database, keys: set[str]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while (await _stored(db, keys))[1] < len(keys):
        assert time.monotonic() < deadline, "the redelivered messages were never processed"
        await asyncio.sleep(0.2)


async def _waiting_on_a_lock(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")) or 0)


async def _inbox_state(db: Database, key: str) -> str | None:
    async with db.uow() as s:
        return await s.scalar(select(InboxEvent.state).where(InboxEvent.key == key))


async def test_an_outage_while_processing_leaves_the_event_in_the_inbox(
        pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL: a stored (acknowledged) event whose processing loses its database midway.
    The test holds a lock that processing needs, so the outage is sure to strike while the
    event is being processed; the event stays pending and is processed once when it is back."""
    db = await _seed(pg_url)
    url = make_url(pg_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.up()
    app_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    port, key = _free_port(), "evt:wecom:outage-w"
    base = f"http://127.0.0.1:{port}"
    try:
        async with FakeWeComAPI() as api:
            with FakeDingTalk() as dt:
                msgs = Messages(base, dt, "stream")
                env = _env(app_url, port, api.base_url, dt, "http")
                env["JIFEN_INBOX_LEASE_SECONDS"] = "2"
                _, before = await _effects(db, {key})
                proc = Process(env, tmp_path / "jifen.log")
                try:
                    async with aiohttp.ClientSession() as http:
                        await _until_up(http, base, proc.proc)
                        async with db.engine.connect() as lock, lock.begin():
                            await lock.execute(text("LOCK TABLE employees IN ACCESS EXCLUSIVE MODE"))
                            assert await msgs.post_wecom(http) == 200  # stored: acknowledged
                            deadline = time.monotonic() + DEADLINE_S
                            while not await _waiting_on_a_lock(db):  # processing is held
                                assert time.monotonic() < deadline, "processing never started"
                                await asyncio.sleep(0.05)
                            await proxy.down()
                            await _until("the attempt failed", lambda: proc.said(
                                f"inbox: event {key} failed"))
                            assert await _inbox_state(db, key) == "pending"
                            assert (await _effects(db, {key})) == (set(), before)
                        await proxy.up()
                        await _until_processed(db, {key})
                finally:
                    await proc.stop()
        assert await _inbox_state(db, key) == "done"
        done, after = await _effects(db, {key})
        assert done == {key} and after - before == 1
        assert jifen("ledger", "verify", db_url=pg_url).returncode == 0
    finally:
        await proxy.close()
        await db.dispose()
