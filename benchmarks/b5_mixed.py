"""B5: a mixed chat load through WeCom callbacks, against a bare aiohttp handler in the same run.

Like B2 (same app, server, load generator and phases; see ``benchmarks.b2_wecom``), but from 200
employees and with the mix of SPEC section 9: 60 % ``积分``, 20 % ``赞 @someone 1 reason``,
10 % ``商城``, 10 % ``明细``. Before the timed phases it sends a few messages of each kind one at
a time and prints the SQL statements each kind costs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from benchmarks.b2_wecom import (
    Bench,
    Job,
    Phase,
    Request,
    bare_app,
    client_main,
    goals_line,
    jifen_app,
    measure,
    outbox_rows,
    run_workers,
    serve,
    worker_counts,
)
from benchmarks.common import count_db_statements, run_with_load_client

MIX = (("balance", 6), ("give", 2), ("catalog", 1), ("history", 1))  # out of 10


def user(i: int) -> str:
    return f"b5u{i:03d}"


def text_of(kind: str, sender: int, serial: int, employees: int) -> str:
    if kind == "give":
        # a different recipient each time (at most 2 awards per pair and day)
        other = (sender + 1 + serial % (employees - 1)) % employees
        return f"赞 @{user(other)} 1 感谢帮忙支持"
    return {"balance": "积分", "catalog": "商城", "history": "明细"}[kind]


def kind_at(i: int) -> str:
    slot, acc = i % 10, 0
    for kind, share in MIX:
        acc += share
        if slot < acc:
            return kind
    raise AssertionError(slot)


def make_requests(n: int, prefix: str, employees: int, kind: str | None = None) -> list[Request]:
    """``n`` encrypted messages in the mix (or all of one ``kind``), senders round-robin."""
    from tests.fakes.wecom_server import WeComCallbackSender, text_xml

    sender = WeComCallbackSender()
    out = []
    for i in range(n):
        who = i % employees
        content = text_of(kind or kind_at(i), who, i // employees, employees)
        xml = text_xml(user=user(who), content=content, msg_id=f"{prefix}{i:08d}",
                       create_time=int(time.time()))
        req = sender.message(xml, nonce=f"{i:010d}")
        out.append((req.query_string, req.body))
    return out


async def enrol(db_url_app: object, employees: int, given: int = 0) -> None:
    """200 employees with WeCom ids and 1,000 points each, next to the demo; then ``given``
    awards of 1 point among them this month (through the core, ``awards.give``), as a company
    some way into its month has: each giver thanks the colleagues before them in turn, where
    the timed ``赞`` go to those after them (no pair reaches its daily limit)."""
    from bot.app import DB_KEY, POLICY_KEY
    from core.awards.service import give
    from core.ledger import credit
    from core.models import Employee, utcnow

    db, policy = db_url_app[DB_KEY], db_url_app[POLICY_KEY]  # type: ignore[index]
    now = utcnow()

    async def fill(s: object) -> None:
        s.add_all(Employee(employee_id=user(i).upper(), name=f"员工{i:03d}", department="bench",  # type: ignore[attr-defined]
                           wecom_userid=user(i)) for i in range(employees))
        await s.flush()  # type: ignore[attr-defined]
        for i in range(employees):
            await credit(s, employee_id=user(i).upper(), amount=1000, key=f"b5:seed:{i}",  # type: ignore[arg-type]
                         kind="grant", actor="bench", reason="seed", now=now, policy=policy)

    async def thank(s: object, first: int, last: int) -> None:
        for k in range(first, last):
            giver, back = k % employees, 1 + k // employees
            await give(s, giver_id=user(giver).upper(), recipient_ids=[  # type: ignore[arg-type]
                user((giver - back) % employees).upper()], amount=1, reason="谢谢帮忙支持",
                key=f"b5:given:{k}", now=now, policy=policy)

    await db.run(fill)
    for first in range(0, given, 500):
        await db.run(lambda s, first=first: thank(s, first, min(given, first + 500)))


async def per_kind(bench: Bench, url: str, statements: list[int], employees: int,
                   settled: Callable[[], bool], each: int) -> dict[str, float]:
    """SQL statements per message of each kind, sent one at a time."""
    out = {}
    for kind, _ in MIX:
        reqs = make_requests(each, f"k{kind[:2]}", employees, kind)
        statements[0] = 0
        await bench.phase(f"{kind} one by one", Job(url, reqs, "max", 1), settled)
        out[kind] = statements[0] / each
    return out


async def run_app(bench: Bench, args: argparse.Namespace, name: str, db_url: str,
                  reqs: list[Request], bare: Phase) -> None:
    from bot.app import DB_KEY, EVENT_INBOX_KEY
    from tests.fakes.wecom_server import FakeWeComAPI

    async with FakeWeComAPI() as api:
        app = await jifen_app(db_url, api.base_url)
        await enrol(app, args.employees, args.given)
        both = count_db_statements(app[DB_KEY])
        async with serve(app) as url:
            events = app[EVENT_INBOX_KEY]
            kinds = await per_kind(bench, url, both, args.employees, lambda: not events.busy, args.each)
            before = await outbox_rows(app)
            a, b = await measure(bench, url, reqs, f"jifen {name}", args, lambda: not events.busy, both)
            backlog = events.busy
            queued = await outbox_rows(app) - before
    print(f"{'':<34} SQL statements per message: " + ", ".join(
        f"{k} {v:.1f}" for k, v in kinds.items()))
    print(a.line())
    print(a.collector_line())
    print(b.line())
    print(f"{'':<34} {both[1] / a.count:.1f} SQL statements per message in the mix; {backlog} "
          f"events still in progress after the last ack of (b); {queued} replies queued")
    goals_line(a, b, bare, args, (0.20, 100.0), f"B5 {name}")


async def run(args: argparse.Namespace, backends: list[tuple[str, str]], conn: Connection) -> None:
    from bot.app import DB_KEY

    bench = Bench(conn, time.monotonic() + args.deadline)
    per_run = args.warmup + args.n + int(args.rate * args.seconds)
    bare_reqs = make_requests(per_run, "bare", args.employees)
    async with serve(bare_app()) as url:
        bare = await measure(bench, url, bare_reqs, "bare aiohttp", args)
    print(bare[0].line())
    print(bare[1].line())
    async def seed(db_url: str, api_base: str) -> None:
        app = await jifen_app(db_url, api_base)
        await enrol(app, args.employees, args.given)
        await app[DB_KEY].dispose()

    for name, db_url in backends:
        for i, count in enumerate(args.workers):
            reqs = make_requests(per_run, f"{name[:2]}{count}", args.employees)
            try:
                if count == 1:
                    await run_app(bench, args, name, db_url, reqs, bare[0])
                else:
                    await run_workers(bench, args, name, db_url, reqs, bare[0], count,
                                      seed=seed if i == 0 else None, goals=(0.20, 100.0))
            except TimeoutError as exc:
                print(f"jifen {name}: stopped, {exc} (--deadline {args.deadline:g} s)")
                return


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="requests in the max-throughput phase")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--employees", type=int, default=200)
    ap.add_argument("--given", type=int, default=0,
                    help="awards already given this month before the timed phases (1 point each; "
                         "at most 90 per giver, whose allowance is 100 a month, and --employees - 16)")
    ap.add_argument("--each", type=int, default=10, help="messages per kind in the statement count")
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"))
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--workers", type=worker_counts, default=[1, 2],
                    help="serve the app with each of these numbers of processes, e.g. 1,2")
    ap.add_argument("--deadline", type=float, default=240.0)
    args = ap.parse_args(argv)
    args.profile = None
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_with_load_client("b5", args, client_main,
                         f"B5 n={args.n} c={args.concurrency} rate={args.rate:g}/s x {args.seconds:g} s, "
                         f"{args.employees} employees, {args.given} awards given this month before "
                         f"({os.cpu_count()} CPUs)", run)


if __name__ == "__main__":
    main()
