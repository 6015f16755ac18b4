"""The app served by several processes on one port, as ``jifen run --workers N`` serves it
(``bot.app.serving``: ``SO_REUSEPORT``, each process a whole app on the shared database), for
B2 and B5. As in their one-process runs the outbox worker and scheduler are off (nothing is
sent; the figures are the callback path's), and the database was seeded beforehand.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue

from sqlalchemy import func, select

from core.db import Database
from core.models import InboxEvent

CALLBACK = "/wecom/callback"
_TICK = os.sysconf("SC_CLK_TCK")
_PENDING = select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db_url: str, api_base: str, port: int, ready: Queue[int]) -> None:
    """One serving process: the app of ``b2_wecom.jifen_app`` without seeding."""
    from aiohttp import web

    from bot.app import build_served
    from config.settings import Settings
    from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

    settings = Settings(
        database_url=db_url, wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY,  # type: ignore[arg-type]
        wecom_api_base=api_base, _env_file=None)  # type: ignore[call-arg]
    web.run_app(build_served(settings, background=False), host="127.0.0.1", port=port,
                reuse_port=True, access_log=None, print=lambda _banner: ready.put(os.getpid()))


@dataclass
class Workers:
    procs: list[SpawnProcess]
    db: Database

    def cpu_s(self) -> float:
        """CPU time (user + system, every thread) the workers have used so far."""
        total = 0
        for proc in self.procs:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / _TICK

    async def pending(self) -> int:
        """Events stored and not yet processed (by any worker)."""
        async with self.db.engine.connect() as conn:
            return int(await conn.scalar(_PENDING) or 0)


@asynccontextmanager
async def served_by_workers(db_url: str, api_base: str, count: int) -> AsyncIterator[tuple[str, Workers]]:
    """Serve the (seeded) database from ``count`` processes; yields the callback URL."""
    ctx = mp.get_context("spawn")
    ready: Queue[int] = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_serve, args=(db_url, api_base, port, ready), daemon=True)
             for _ in range(count)]
    for proc in procs:
        proc.start()
    db = Database(db_url)
    try:
        for _ in procs:
            await asyncio.to_thread(ready.get, True, 120)
        yield f"http://127.0.0.1:{port}{CALLBACK}", Workers(procs, db)
    finally:
        await db.dispose()
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            await asyncio.to_thread(proc.join, 30)
            if proc.is_alive():
                proc.kill()
