"""B7 — the answer, not the acknowledgement (SPEC section 9).

A real jifen app (``build_served(..., background=True)``: the outbox worker and scheduler running, as in
``jifen run``) served on 127.0.0.1 with WeCom pointed at the loopback fake of the tests, which
answers every call at once and here also stamps when each ``message/send`` arrived.

1. ``--employees`` employees with WeCom ids; a bulk grant queues ``--pushes`` pushes
   ("你获得了 100 积分"), then ``积分`` arrives at ``--rate`` req/s, each from a different
   employee (load generator in a separate process, pre-encrypted callbacks). The reply latency is
   the time from a request's scheduled send time to the arrival of its answer at the fake WeCom.
2. The outbox's own send rate: ``--throughput`` pushes to distinct employees queued in one
   transaction; messages/s from that commit until the last one arrived at the fake.

Goals: reply p99 < 1 s; outbox >= 200 messages/s. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from benchmarks.b2_wecom import Bench, Job, Request, client_main, serve
from benchmarks.common import percentile, run_with_load_client
from tests.fakes.wecom_server import FakeWeComAPI


class TimedWeCom(FakeWeComAPI):
    """The tests' fake WeCom, stamping when each message/send arrives, per recipient."""

    arrivals: list[tuple[str, float]]
    wall: dict[str, float]  # first arrival per recipient, time.time()

    async def _handle(self, request: web.Request) -> web.Response:
        response = await super()._handle(request)
        if request.path.endswith("message/send"):
            body = self.requests[-1].json or {}
            self.arrivals.append((str(body.get("touser")), time.perf_counter()))
            self.wall.setdefault(str(body.get("touser")), time.time())
        return response


def wecom_user(i: int) -> str:
    return f"w{i:05d}"


def make_requests(n: int, first: int) -> list[Request]:
    """``积分`` from employees ``first .. first+n-1``, one each, pre-encrypted."""
    from tests.fakes.wecom_server import WeComCallbackSender, text_xml

    sender = WeComCallbackSender()
    out = []
    for i in range(n):
        xml = text_xml(user=wecom_user(first + i), content="积分", msg_id=f"b7{first + i:010d}",
                       create_time=int(time.time()))
        req = sender.message(xml, nonce=f"{i:010d}")
        out.append((req.query_string, req.body))
    return out


async def jifen_app(db_url: str, api_base: str, employees: int) -> web.Application:
    from bot.app import DB_KEY, build_served
    from config.settings import Settings
    from core.models import Employee
    from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

    settings = Settings(
        database_url=db_url, wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY,  # type: ignore[arg-type]
        wecom_api_base=api_base, playground=False, _env_file=None)  # type: ignore[call-arg]
    app = await build_served(settings, background=True)
    async with app[DB_KEY].uow() as s:
        s.add_all([Employee(employee_id=f"E{i:05d}", name=f"员工{i}", department="研发部",
                            wecom_userid=wecom_user(i), locale="zh") for i in range(employees)])
    return app


async def queue_pushes(app: web.Application, employees: list[int]) -> float:
    """A bulk grant's pushes, queued in one transaction; returns the commit time."""
    from bot.app import DB_KEY
    from core.models import utcnow
    from core.outbox import push

    async with app[DB_KEY].uow() as s:
        for i in employees:
            await push(s, employee_id=f"E{i:05d}", kind="points_granted", now=utcnow(),
                       payload={"amount": 100, "reason": "季度之星"})
    return time.perf_counter()


async def wait_for(cond: Callable[[], bool], bench: Bench) -> None:
    while not cond():
        if bench.left() <= 0:
            raise TimeoutError("benchmark deadline reached while the outbox was still sending")
        await asyncio.sleep(0.01)


async def run_backend(bench: Bench, args: argparse.Namespace, name: str, db_url: str) -> None:
    async with TimedWeCom() as api:
        api.arrivals, api.wall = [], {}
        app = await jifen_app(db_url, api.base_url, args.employees)
        async with serve(app) as url:
            await _replies(bench, args, name, url, app, api)
            await _throughput(bench, args, name, app, api)


async def _replies(bench: Bench, args: argparse.Namespace, name: str, url: str,
                   app: web.Application, api: TimedWeCom) -> None:
    pushes = list(range(args.pushes))
    askers = args.employees - args.requests  # the askers are the last employees, one request each
    reqs = make_requests(args.requests, askers)
    await queue_pushes(app, pushes)
    result = await bench.send(Job(url, reqs, "rate", rate=args.rate))
    users = {wecom_user(askers + i): result.start + i / args.rate for i in range(args.requests)}
    await wait_for(lambda: len({u for u, _ in api.arrivals if u in users}) >= len(users), bench)
    first: dict[str, float] = {}
    for user, at in api.arrivals:
        first.setdefault(user, at)
    lat = sorted(first[u] - scheduled for u, scheduled in users.items())
    statuses = Counter(result.statuses)
    print(f"B7 {name}: {args.requests} x 积分 at {args.rate:g} req/s after {args.pushes} queued "
          f"pushes: reply p50 {percentile(lat, 50) * 1000:.0f} ms  p99 "
          f"{percentile(lat, 99) * 1000:.0f} ms  max {lat[-1] * 1000:.0f} ms (goal p99 < 1 s); "
          f"callbacks {dict(statuses)}")
    pushed = {wecom_user(i) for i in pushes}
    await wait_for(lambda: pushed <= {u for u, _ in api.arrivals}, bench)
    print(f"{'':<4}of which the outbox (answer queued -> at WeCom): {await _outbox_part(app, api)}")


async def _outbox_part(app: web.Application, api: TimedWeCom) -> str:
    """Time from queueing each reply (in the event's transaction) to its arrival at the fake:
    the outbox's own share, apart from the time the callback itself took."""
    from sqlalchemy import select

    from bot.app import DB_KEY
    from core.models import OutboxMessage

    async with app[DB_KEY].uow() as s:
        rows = (await s.execute(select(OutboxMessage.recipient, OutboxMessage.created_at)
                                .where(OutboxMessage.lane == 0))).all()
    waits = sorted(api.wall[r.split(":", 1)[1]] - created.timestamp() for r, created in rows
                   if r.split(":", 1)[1] in api.wall)
    if not waits:
        return "no answers"
    return (f"p50 {percentile(waits, 50) * 1000:.0f} ms  p99 {percentile(waits, 99) * 1000:.0f} ms"
            f"  (the rest is the callback's own processing, queued on the machine's CPU)")


async def _throughput(bench: Bench, args: argparse.Namespace, name: str, app: web.Application,
                      api: TimedWeCom) -> None:
    n = min(args.throughput, args.employees)
    before = len(api.arrivals)
    committed = await queue_pushes(app, list(range(n)))
    await wait_for(lambda: len(api.arrivals) - before >= n, bench)
    first, last = api.arrivals[before][1], api.arrivals[-1][1]
    got = Counter(u for u, _ in api.arrivals[before:])
    print(f"B7 {name}: outbox sent {n} pushes at {n / max(last - first, 1e-6):.0f} messages/s "
          f"(first to last send; goal >= 200/s), {n / (last - committed):.0f}/s counted from the "
          f"commit (includes up to one 1 s idle poll); duplicates "
          f"{sum(c - 1 for c in got.values())}, missing {n - len(got)}")


async def run(args: argparse.Namespace, backends: list[tuple[str, str]], conn: Any) -> None:
    bench = Bench(conn, time.monotonic() + args.deadline)
    for name, db_url in backends:
        try:
            await run_backend(bench, args, name, db_url)
        except TimeoutError as exc:
            print(f"B7 {name}: stopped, {exc} (--deadline {args.deadline:g} s)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=1800)
    ap.add_argument("--pushes", type=int, default=400, help="pushes queued before the chat load")
    ap.add_argument("--requests", type=int, default=800, help="积分 requests, one per employee")
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--throughput", type=int, default=1500, help="pushes for the send-rate phase")
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"))
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    ap.add_argument("--deadline", type=float, default=115.0, help="give up after this many seconds")
    args = ap.parse_args(argv)
    if args.requests + args.pushes > args.employees:
        ap.error("--employees must be at least --pushes + --requests (distinct people)")
    run_with_load_client("b7", args, client_main,
                         f"B7 employees={args.employees} pushes={args.pushes} requests={args.requests} "
                         f"rate={args.rate:g}/s throughput={args.throughput} ({os.cpu_count()} CPUs)", run)


if __name__ == "__main__":
    main()
