"""The HTTP surface through a real aiohttp server on loopback."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.app import build
from config.settings import Settings


async def test_healthz_reports_database_and_platforms(tmp_path: Path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", _env_file=None)  # type: ignore[call-arg]
    client: TestClient = await aiohttp_client(await build(settings))
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["database"] == "ok"
    assert body["platforms"] == {"wecom": "off", "dingtalk": "off", "playground": "on"}


async def test_oversized_body_is_refused(tmp_path: Path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", _env_file=None)  # type: ignore[call-arg]
    app = await build(settings)

    async def echo(request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        return web.Response(text=str(len(await request.read())))

    app.router.add_post("/echo", echo)
    client: TestClient = await aiohttp_client(app)
    assert (await client.post("/echo", data=b"x" * 1024)).status == 200
    assert (await client.post("/echo", data=b"x" * (1024 * 1024 + 1))).status == 413


async def test_metrics_counts_outbox_and_orders(tmp_path: Path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from bot.app import DB_KEY
    from core.models import OutboxMessage, utcnow

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", playground=False,  # type: ignore[call-arg]
                        _env_file=None)
    app = await build(settings, background=False)
    async with app[DB_KEY].uow() as s:
        s.add(OutboxMessage(recipient="employee:E1", kind="x", status="failed", created_at=utcnow(),
                            next_attempt_at=utcnow()))
    client: TestClient = await aiohttp_client(app)
    text = await (await client.get("/metrics")).text()
    assert 'jifen_outbox_messages{status="failed"} 1' in text
    assert 'jifen_outbox_messages{status="pending"} 0' in text
    assert "jifen_active_employees 0" in text


async def test_metrics_export_every_order_and_outbox_state_with_zeros(tmp_path: Path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from core.orders.desk import STATES as ORDER_STATES
    from core.outbox.queries import STATES as OUTBOX_STATES

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", playground=False,  # type: ignore[call-arg]
                        _env_file=None)
    client: TestClient = await aiohttp_client(await build(settings, background=False))
    text = await (await client.get("/metrics")).text()
    for state in ORDER_STATES:
        assert f'jifen_orders{{status="{state}"}} 0' in text
    for state in OUTBOX_STATES:
        assert f'jifen_outbox_messages{{status="{state}"}} 0' in text
    assert {"pending_approval", "placed", "fulfilled", "cancelled", "rejected"} <= set(ORDER_STATES)


async def test_the_served_app_settles_the_heap_once_started(tmp_path: Path, aiohttp_client,  # type: ignore[no-untyped-def]
                                                              collector_restored: None) -> None:
    from bot.app import build_served
    from bot.app.server import GC_THRESHOLDS

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", _env_file=None)  # type: ignore[call-arg]
    gc.unfreeze()
    app = await build_served(settings, background=False)
    assert gc.get_freeze_count() == 0  # built, not started: nothing frozen yet
    client: TestClient = await aiohttp_client(app)
    assert gc.get_freeze_count() > 10_000  # what start-up built is left out of every collection
    assert gc.get_threshold() == GC_THRESHOLDS
    assert (await client.get("/healthz")).status == 200
    # what serving makes is still collected: a cycle is freed by the next full collection
    node = _Node()
    node.me = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


class _Node:
    me: object = None
