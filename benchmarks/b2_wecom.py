"""B2: the WeCom callback end to end, against a bare aiohttp handler in the same run.

The server side is the real app, as ``jifen run`` serves it
(``bot.app.build_served(..., background=False)``: signature check, decryption, parsing, the dispatcher with the command "积分", the database and the reply queued in
the outbox) seeded with the demo, served on 127.0.0.1 by ``web.AppRunner``; the WeCom API it
would call is the loopback fake of the tests (the outbox worker is off, so nothing is sent).
The baseline is a bare aiohttp handler that reads the body and answers "success".

The load generator runs in a separate process (its own event loop, its own core) and sends
pre-encrypted text messages with unique MsgIds, generated before any timing:

(a) max throughput: N requests with C in flight -> req/s (and latency percentiles);
(b) a fixed rate (default 200 req/s for 10 s, open loop) -> p50/p99 latency, measured from each
    request's *scheduled* send time, so a slow server cannot hide queueing delay.

For the real app, (a)'s end is when the last event's work finished, not merely acked (the
handler acks once the event is stored in the inbox; the work follows). Everything stays on
127.0.0.1; the run stops by itself (``--deadline`` seconds in all).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import os
import pstats
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from benchmarks.common import CollectorTime, count_db_statements, percentile, run_with_load_client
from benchmarks.workers import served_by_workers

CALLBACK = "/wecom/callback"
DEMO_USERS = ("chenjing", "linfang", "zhaolei", "wangwei", "wangwei2", "liuyang", "sunyue",
              "alice", "zhoujie", "wumin")
Request = tuple[str, bytes]  # (query string, body)
Settled = Callable[[], "bool | Awaitable[bool]"]  # has the server finished the work it acked?


# --------------------------------------------------------------------------- load generator

@dataclass(frozen=True)
class Job:
    url: str
    requests: list[Request]
    mode: str  # "max" | "rate"
    concurrency: int = 32
    rate: float = 200.0


@dataclass(frozen=True)
class Result:
    start: float  # time.perf_counter() (CLOCK_MONOTONIC: comparable across processes)
    end: float
    latencies: list[float]  # seconds, sorted
    statuses: dict[int | str, int]
    max_lag: float = 0.0  # rate mode: how late the client itself sent its worst request


async def _post(session: aiohttp.ClientSession, url: str, req: Request) -> int | str:
    query, body = req
    try:
        async with session.post(f"{url}?{query}", data=body,
                                headers={"Content-Type": "text/xml"}) as resp:
            await resp.read()
            return resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def _run_max(session: aiohttp.ClientSession, job: Job) -> Result:
    pending = iter(job.requests)
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()

    async def worker() -> None:
        for req in pending:  # one shared iterator: each request is sent once
            t = time.perf_counter()
            statuses[await _post(session, job.url, req)] += 1
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(job.concurrency)))
    end = time.perf_counter()
    return Result(start, end, sorted(latencies), dict(statuses))


async def _run_rate(session: aiohttp.ClientSession, job: Job) -> Result:
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    lag = 0.0

    async def one(scheduled: float, req: Request) -> None:
        statuses[await _post(session, job.url, req)] += 1
        latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter() + 0.05
    tasks = []
    for i, req in enumerate(job.requests):
        scheduled = start + i / job.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, time.perf_counter() - scheduled)
        tasks.append(asyncio.ensure_future(one(scheduled, req)))
    await asyncio.gather(*tasks)
    return Result(start, time.perf_counter(), sorted(latencies), dict(statuses), lag)


async def _client_loop(conn: Connection) -> None:
    timeout = aiohttp.ClientTimeout(total=15)
    while True:
        job: Job | None = await asyncio.to_thread(conn.recv)
        if job is None:
            return
        limit = job.concurrency if job.mode == "max" else 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                         timeout=timeout) as session:
            run = _run_max if job.mode == "max" else _run_rate
            conn.send(await run(session, job))


def client_main(conn: Connection) -> None:
    """Entry point of the load-generating process."""
    asyncio.run(_client_loop(conn))


# --------------------------------------------------------------------------- servers

def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port (no access log) and yield the callback URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = _free_socket()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{CALLBACK}"
    finally:
        await runner.cleanup()


def bare_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post(CALLBACK, handler)
    return app


def make_requests(n: int, prefix: str) -> list[Request]:
    """``n`` encrypted "积分" messages from the demo's WeCom users, each with its own MsgId."""
    from tests.fakes.wecom_server import WeComCallbackSender, text_xml

    sender = WeComCallbackSender()
    out = []
    for i in range(n):
        xml = text_xml(user=DEMO_USERS[i % len(DEMO_USERS)], content="积分",
                       msg_id=f"{prefix}{i:08d}", create_time=int(time.time()))
        req = sender.message(xml, nonce=f"{i:010d}")
        out.append((req.query_string, req.body))
    return out


# --------------------------------------------------------------------------- driver

@dataclass
class Phase:
    label: str
    result: Result
    done_at: float  # when the server had finished the work (== result.end for the bare handler)
    cpu_s: float = 0.0  # this process's CPU time (all its threads) during the phase
    gc_s: float = 0.0  # of it, the garbage collector's
    gc_longest_s: float = 0.0  # its longest pause

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / max(1, self.count)

    @property
    def count(self) -> int:
        return len(self.result.latencies)

    @property
    def rate(self) -> float:
        return self.count / (self.done_at - self.result.start)

    def line(self) -> str:
        lat = self.result.latencies
        ok = self.result.statuses.get(200, 0)
        other = {k: v for k, v in self.result.statuses.items() if k != 200}
        tail = f"  NOT 200: {other}" if other else ""
        # in (b) the app acks once the event is stored, with the work still going on: "acked/s"
        unit = "req/s" if self.label.startswith("bare") or " max " in self.label else "acked/s"
        return (f"{self.label:<34} {self.rate:8.1f} {unit:<7}  p50 {percentile(lat, 50) * 1000:7.1f} ms  "
                f"p99 {percentile(lat, 99) * 1000:7.1f} ms  max {lat[-1] * 1000:7.1f} ms  "
                f"cpu {self.cpu_ms_per_request:5.2f} ms/req  ({ok}/{self.count} ok){tail}")

    def collector_line(self) -> str:
        return (f"{'':<34} garbage collector {self.gc_s * 1e6 / max(1, self.count):.0f} µs/req, "
                f"longest pause {self.gc_longest_s * 1000:.1f} ms")


class Bench:
    def __init__(self, conn: Connection, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline

    def left(self) -> float:
        return self.deadline - time.monotonic()

    async def send(self, job: Job) -> Result:
        self.conn.send(job)
        if not await asyncio.to_thread(self.conn.poll, max(0.0, self.left())):
            raise TimeoutError("benchmark deadline reached")
        result: Result = self.conn.recv()
        return result

    async def phase(self, label: str, job: Job, settled: Settled = lambda: True,
                    cpu_s: Callable[[], float] = time.process_time) -> Phase:
        """``cpu_s``: the server's CPU time so far (this process's by default); CPU time,
        unlike wall time, stays meaningful on a busy host."""
        cpu = cpu_s()
        with CollectorTime() as collector:
            result = await self.send(job)
            done_at = result.end
            if not await _true(settled()):  # the app acked before its work finished: wait
                while not await _true(settled()):
                    if self.left() <= 0:
                        raise TimeoutError("deadline reached while the server was still working")
                    await asyncio.sleep(0.002)
                done_at = max(done_at, time.perf_counter())
        return Phase(label, result, done_at, cpu_s() - cpu, collector.total, collector.longest)


async def _true(answer: bool | Awaitable[bool]) -> bool:
    return await answer if inspect.isawaitable(answer) else answer


def _always() -> bool:
    return True


async def measure(bench: Bench, url: str, reqs: list[Request], label: str, args: argparse.Namespace,
                  settled: Settled = _always, statements: list[int] | None = None,
                  cpu_s: Callable[[], float] = time.process_time) -> tuple[Phase, Phase]:
    """Warm up, then (a) and (b). ``statements`` (a counter) is left holding (a)'s SQL count."""
    warm, n = args.warmup, args.n
    await bench.phase("warmup", Job(url, reqs[:warm], "max", args.concurrency), settled, cpu_s)
    if statements is not None:
        statements[0] = 0
    profiler = cProfile.Profile(time.thread_time) if args.profile and settled is not _always else None
    if profiler is not None:
        profiler.enable()
    a = await bench.phase(f"{label} max (c={args.concurrency})",
                          Job(url, reqs[warm:warm + n], "max", args.concurrency), settled, cpu_s)
    if statements is not None:
        statements.append(statements[0])
    if profiler is not None:
        profiler.disable()
        print(f"--- cProfile of the server's event-loop thread during '{a.label}' ---")
        pstats.Stats(profiler).sort_stats(args.profile).print_stats(args.profile_lines)
    # (b) is not waited for: the app acks once an event is stored and works on; what it
    # still had in hand when the last ack came is reported as the backlog.
    b = await bench.phase(f"{label} {args.rate:g} req/s",
                          Job(url, reqs[warm + n:], "rate", rate=args.rate), cpu_s=cpu_s)
    return a, b


async def jifen_app(db_url: str, api_base: str) -> web.Application:
    from bot.app import DB_KEY, POLICY_KEY, build_served
    from bot.app.demo import load_demo
    from config.settings import Settings
    from core.models import utcnow
    from tests.fakes.wecom_server import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

    settings = Settings(
        database_url=db_url, wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY,  # type: ignore[arg-type]
        wecom_api_base=api_base, _env_file=None)  # type: ignore[call-arg]
    app = await build_served(settings, background=False)
    await load_demo(app[DB_KEY], app[POLICY_KEY], now=utcnow())
    return app


async def outbox_rows(app: web.Application) -> int:
    from bot.app import DB_KEY
    from core.models import OutboxMessage

    # engine.connect(), not uow(): on SQLite uow() would queue behind the app's writers
    async with app[DB_KEY].engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def run(args: argparse.Namespace, backends: list[tuple[str, str]], conn: Connection) -> None:
    bench = Bench(conn, time.monotonic() + args.deadline)
    per_run = args.warmup + args.n + int(args.rate * args.seconds)
    t = time.perf_counter()
    bare_reqs = make_requests(per_run, "bare")
    app_reqs = {(name, k): make_requests(per_run, f"{name[:2]}{k}")
                for name, _ in backends for k in args.workers}
    print(f"pre-encrypted {per_run * (1 + len(app_reqs))} requests in "
          f"{time.perf_counter() - t:.1f} s; load generator in process {args.client_pid}")

    async with serve(bare_app()) as url:
        bare = await measure(bench, url, bare_reqs, "bare aiohttp", args)
    print(bare[0].line())
    print(bare[1].line())

    for name, db_url in backends:
        for i, count in enumerate(args.workers):
            try:
                if count == 1:
                    await run_app(bench, args, name, db_url, app_reqs[name, count], bare[0])
                else:
                    await run_workers(bench, args, name, db_url, app_reqs[name, count], bare[0],
                                      count, seed=seed_demo if i == 0 else None)
            except TimeoutError as exc:
                print(f"jifen {name}: stopped, {exc} (--deadline {args.deadline:g} s)")
                return


async def run_app(bench: Bench, args: argparse.Namespace, name: str, db_url: str,
                  reqs: list[Request], bare: Phase) -> None:
    from bot.app import DB_KEY, EVENT_INBOX_KEY
    from tests.fakes.wecom_server import FakeWeComAPI

    async with FakeWeComAPI() as api:
        app = await jifen_app(db_url, api.base_url)
        statements = count_db_statements(app[DB_KEY])
        async with serve(app) as url:
            before = await outbox_rows(app)
            events = app[EVENT_INBOX_KEY]
            a, b = await measure(bench, url, reqs, f"jifen {name}", args,
                                 lambda: not events.busy, statements)
            backlog = events.busy
            queued = await outbox_rows(app) - before
    print(a.line())
    print(a.collector_line())
    print(b.line())
    print(f"{'':<34} {statements[1] / a.count:.1f} SQL statements per message; {backlog} events "
          f"still in progress after the last ack of (b); {queued} of {len(reqs)} replies queued")
    goals_line(a, b, bare, args, (0.30, 50.0), f"jifen {name}")


def goals_line(a: Phase, b: Phase, bare: Phase, args: argparse.Namespace,
               goals: tuple[float, float], who: str) -> None:
    """Print the ratio to bare and the fixed rate's p99 against ``goals`` (ratio, ms); exit if a
    request failed."""
    print(f"{'':<34} throughput ratio {a.rate / bare.rate:6.1%} of bare (goal >= {goals[0]:.0%});  "
          f"p99 at {args.rate:g} req/s {percentile(b.result.latencies, 99) * 1000:.1f} ms "
          f"(goal < {goals[1]:g} ms); client send lag max {b.result.max_lag * 1000:.1f} ms")
    bad = {k: v for k, v in {**a.result.statuses, **b.result.statuses}.items() if k != 200}
    if bad:
        raise SystemExit(f"{who}: requests failed: {bad}")


async def seed_demo(db_url: str, api_base: str) -> None:
    from bot.app import DB_KEY

    await (await jifen_app(db_url, api_base))[DB_KEY].dispose()


async def run_workers(bench: Bench, args: argparse.Namespace, name: str, db_url: str,
                      reqs: list[Request], bare: Phase, count: int, *,
                      seed: Callable[[str, str], Awaitable[None]] | None,
                      goals: tuple[float, float] = (0.30, 50.0)) -> None:
    """The app as ``jifen run --workers <count>`` serves it (``benchmarks.workers``), after
    ``seed(db_url, api_base)`` if an earlier run of this backend did not seed the database.
    ``goals``: the throughput ratio to bare and the p99 (ms) at the fixed rate."""
    from tests.fakes.wecom_server import FakeWeComAPI

    async with FakeWeComAPI() as api:
        if seed is not None:
            await seed(db_url, api.base_url)
        async with served_by_workers(db_url, api.base_url, count) as (url, workers):
            async def settled() -> bool:
                return await workers.pending() == 0

            a, b = await measure(bench, url, reqs, f"jifen {name} {count} workers", args, settled,
                                 cpu_s=workers.cpu_s)
            backlog = await workers.pending()
    print(a.line())
    print(b.line())
    print(f"{'':<34} {backlog} events still in progress after the last ack of (b)")
    goals_line(a, b, bare, args, goals, f"jifen {name} {count} workers")


def worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts such as 1,2")
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="requests in the max-throughput phase")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight in (a)")
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second in (b)")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of (b)")
    ap.add_argument("--warmup", type=int, default=200, help="untimed requests before each run")
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"),
                    help="also run the app on a fresh database next to this PostgreSQL URL")
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    ap.add_argument("--workers", type=worker_counts, default=[1, 2],
                    help="serve the app with each of these numbers of processes (jifen run "
                         "--workers), e.g. 1,2; 1 is this process, with statement counts")
    ap.add_argument("--profile", choices=("tottime", "cumulative"),
                    help="cProfile the serving thread during the max-throughput phase (its CPU time, not wall time: a wait for the GIL is not work), sorted by this column")
    ap.add_argument("--profile-lines", type=int, default=30)
    ap.add_argument("--deadline", type=float, default=240.0, help="give up after this many seconds")
    args = ap.parse_args(argv)
    run_with_load_client("b2", args, client_main,
                         f"B2 n={args.n} c={args.concurrency} rate={args.rate:g}/s x {args.seconds:g} s "
                         f"({os.cpu_count()} CPUs)", run)


if __name__ == "__main__":
    main()
