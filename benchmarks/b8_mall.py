"""B8: the mall's catalog page ``/m/catalog`` with many items, over HTTP on 127.0.0.1.

The real app (``bot.app.build_served(..., background=False)``, as ``jifen run`` serves it) with the demo and ``--items`` extra items
(a third of them ``code`` items with a few codes each, so the free-code count is exercised), an
employee signed in through a one-time mall link; then ``--requests`` sequential GETs of the whole
catalog (and of the home page), timed from the client: p50 / p95 / max and the page size. The
goal (issue "employee mall") is p50 under 200 ms for 500 items; nothing here asserts it.

    python -m benchmarks.b8_mall [--items 500] [--requests 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks.common import POLICY_FILE, percentile, pg_database
from bot.app import DB_KEY, POLICY_KEY, SETTINGS_KEY, build_served
from bot.app.demo import load_demo
from bot.web.auth.links import login_link
from config.settings import Settings
from core.db import Database
from core.models import CatalogItem, CodeEntry, utcnow

EMPLOYEE = "E004"


async def seed_items(db: Database, n: int) -> None:
    async with db.uow() as s:
        for i in range(n):
            code = i % 3 == 0
            s.add(CatalogItem(sku=f"B{i:04d}", name=f"商品 {i}", category=f"分类{i % 8}",
                              points=10 + i % 400, stock=None if code else 50, stock_added=0 if code else 50,
                              sold=0, kind="code" if code else "physical",
                              limit_per_employee=2 if i % 5 == 0 else None,
                              description=f"第 {i} 件测试商品", image_url=f"/static/demo/{('cup', 'bag', 'coffee')[i % 3]}.svg"))
        await s.flush()
        for i in range(0, n, 3):
            for j in range(3):
                s.add(CodeEntry(sku=f"B{i:04d}", code=f"C-{i}-{j}"))


async def timed(http: aiohttp.ClientSession, url: str, n: int) -> tuple[list[float], int]:
    async with http.get(url) as warm:  # warm-up: templates compiled, caches filled
        assert warm.status == 200, warm.status
        size = len(await warm.read())
    times = []
    for _ in range(n):
        start = time.perf_counter()
        async with http.get(url) as resp:
            await resp.read()
            assert resp.status == 200
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times), size


async def main(items: int, requests: int, db_url: str) -> None:
    settings = Settings(database_url=db_url, policy_file=str(POLICY_FILE), playground=False,
                        _env_file=None)  # type: ignore[call-arg]
    app = await build_served(settings, background=False)
    await load_demo(app[DB_KEY], app[POLICY_KEY], now=utcnow())
    await seed_items(app[DB_KEY], items)
    link = await app[DB_KEY].run(lambda s: login_link(s, app[SETTINGS_KEY], employee_id=EMPLOYEE,
                                                      purpose="mall", now=utcnow()))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(base + "/m/login?" + link.split("?", 1)[1]) as signed:
                assert str(signed.url).endswith("/m"), signed.url
            for label, path in (("catalog, all items", "/m/catalog"), ("home", "/m")):
                times, size = await timed(http, base + path, requests)
                print(f"{label:20s} p50 {percentile(times, 50):7.1f} ms  p95 "
                      f"{percentile(times, 95):7.1f} ms  max {times[-1]:7.1f} ms  "
                      f"({requests} requests, {size / 1024:.0f} KiB)")
    finally:
        await runner.cleanup()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    print(f"B8 mall catalog: {args.items} extra items (+ the demo's 7)")
    if args.postgres:
        url, drop = pg_database(args.postgres, "b8")
        try:
            print("PostgreSQL:")
            asyncio.run(main(args.items, args.requests, url))
        finally:
            drop()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:")
        asyncio.run(main(args.items, args.requests, f"sqlite+aiosqlite:///{Path(tmp) / 'b8.db'}"))


if __name__ == "__main__":
    cli()
