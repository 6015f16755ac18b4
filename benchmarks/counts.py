"""Counts, not times: Python function calls and SQL statements per chat event.

Wall-clock figures on a shared machine swing by more than most changes to the event path (the
same code gave B2 432 and 704 `积分`/s an hour apart), so an A/B of a small change needs a
measure that does not depend on the machine's speed. This runs events through the real WeCom
app's inbox and dispatcher (``inbox.accept`` → processing → the answer and its outbox rows),
one at a time, waiting for each to finish by an event (never by polling a clock), so nothing is
batched by chance and every run of the same code counts the same on any machine, to within a
few hundredths of a per cent (which thread reaches a hand-over first can change a call or
two). The calls are counted in every thread (the serving loop and, on SQLite, the database
lanes) with a trace hook per thread; it makes the run slow, which does not matter for a count.

Kinds: ``积分``, ``赞 @someone 1 感谢帮忙支持``, ``商城``, ``明细`` (B5's mix), each from its
own employees, and a redemption through the core (``start_redemption`` + ``confirm``, B3's
attempt). Prints calls and statements per event of each kind; compare two checkouts with
``python -m benchmarks.counts`` run from each (README, Benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import sys
import tempfile
import threading
import time
from types import FrameType
from typing import Any

from aiohttp import web

from benchmarks.common import count_db_statements, pg_database

KINDS = ("balance", "give", "catalog", "history")
# Events of each kind run uncounted first: they fill SQLAlchemy's statement cache, import what
# is imported lazily and plan the statements run in place (core.direct plans a statement the
# second time it runs), all once per process.
WARM = 2
SKU = "COUNTS"


# The event loops' own code (asyncio's and the selector's) is not counted: how many times a
# loop goes round before a result comes back from another thread depends on timing, the work
# it runs when one comes does not. The callbacks and coroutines it runs are counted.
_LOOP_FILES = tuple(os.path.dirname(module.__file__ or "") for module in (asyncio,)) + (
    selectors.__file__, threading.__file__)


class Counter:
    """A trace hook counting, while ``on``, Python function calls and the bytecode instructions
    they run, per thread (no counts are lost to races between threads), summed by ``take``.
    Bytecodes measure the Python work better than calls (a call may run 3 instructions or 300);
    neither sees work done in C (SQLite, the crypto, the XML parser), which does not change
    with our code."""

    def __init__(self) -> None:
        self.on = False
        self._mine = threading.local()
        self._boxes: list[list[int]] = []

    def _box(self) -> list[int]:
        box: list[int] | None = getattr(self._mine, "box", None)
        if box is None:
            box = self._mine.box = [0, 0]
            self._boxes.append(box)
        return box

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call" or not self.on or frame.f_code.co_filename.startswith(_LOOP_FILES):
            return None
        self._box()[0] += 1
        frame.f_trace_opcodes = True
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and self.on:
            self._box()[1] += 1
        return self._local

    def install(self) -> None:
        """For this thread and every thread started from now on (the database lanes)."""
        threading.settrace(self)
        sys.settrace(self)

    @staticmethod
    def uninstall() -> None:
        threading.settrace(None)  # type: ignore[arg-type]
        sys.settrace(None)

    def take(self) -> tuple[int, int]:
        calls, opcodes = (sum(box[i] for box in self._boxes) for i in (0, 1))
        for box in self._boxes:
            box[:] = [0, 0]
        return calls, opcodes


def user(i: int) -> str:
    return f"cnt{i:03d}"


def text_of(kind: str, i: int, employees: int) -> str:
    if kind == "give":  # a different recipient each time: at most 2 awards per pair and day
        return f"赞 @{user((i + 1 + i // employees) % employees)} 1 感谢帮忙支持"
    return {"balance": "积分", "catalog": "商城", "history": "明细"}[kind]


async def enrol(app: Any, employees: int) -> None:
    """Employees with WeCom ids and 1,000 points each, and an item with ample stock."""
    from bot.app import DB_KEY, POLICY_KEY
    from config.catalog_file import parse_catalog
    from core.catalog.importer import import_items
    from core.ledger import credit
    from core.models import Employee, utcnow

    db, policy, now = app[DB_KEY], app[POLICY_KEY], utcnow()

    async def fill(s: Any) -> None:
        s.add_all(Employee(employee_id=user(i).upper(), name=f"计数{i:03d}", department="bench",
                           wecom_userid=user(i)) for i in range(employees))
        await s.flush()
        for i in range(employees):
            await credit(s, employee_id=user(i).upper(), amount=1000, key=f"counts:{i}",
                         kind="grant", actor="bench", reason="seed", now=now, policy=policy)
        items = parse_catalog(f"items:\n  - {{sku: {SKU}, name: 计数杯, points: 1, stock: 1000000}}\n",
                              fmt="yaml")
        await import_items(s, items=items, now=now, policy=policy)

    await db.run(fill)


async def measure(app: Any, kind: str, n: int, employees: int,
                  counter: Counter, statements: list[int]) -> tuple[float, ...]:
    """(calls, bytecodes, statements) per event of ``kind``, after two uncounted events of it."""
    for i in range(n + WARM):
        if i == WARM:  # see WARM
            counter.take()
            statements[0] = 0
            counter.on = True
        await one(app, kind, i, employees)
    counter.on = False
    calls, opcodes = counter.take()
    return calls / n, opcodes / n, statements[0] / n


async def cpu(app: Any, kind: str, n: int, employees: int) -> float:
    """Process CPU µs per event of ``kind`` (after WARM uncounted), with no hook installed: a
    time, so it varies with the machine; printed to relate the counts to it."""
    for i in range(WARM):
        await one(app, kind, i, employees)
    start = time.process_time()
    for i in range(WARM, n + WARM):
        await one(app, kind, i, employees)
    return (time.process_time() - start) / n * 1e6


async def one(app: Any, kind: str, i: int, employees: int) -> None:
    from bot.app import DB_KEY, EVENT_INBOX_KEY, POLICY_KEY
    from bot.runtime.events import IncomingText, Source
    from core.models import utcnow
    from core.orders.service import confirm, start_redemption

    if kind == "redeem":
        db, policy, now = app[DB_KEY], app[POLICY_KEY], utcnow()
        emp = user(i % employees).upper()
        pending = await db.run(lambda s: start_redemption(s, employee_id=emp, sku=SKU, qty=1,
                                                          now=now, policy=policy))
        await db.run(lambda s: confirm(s, employee_id=emp, code=pending.code, now=now,
                                       policy=policy))
        return
    inbox = app[EVENT_INBOX_KEY]
    sender = i % employees
    event = IncomingText(source=Source(platform="wecom", user_id=user(sender)),
                         message_id=f"counts-{kind}-{i}", text=text_of(kind, i, employees))
    await inbox.accept(event)
    await inbox.idle()  # waits on the processing task itself: no clock involved


Figures = dict[str, tuple[float, ...]]


async def run(db_url: str, args: argparse.Namespace, counter: Counter | None) -> Figures:
    """Per kind: (calls, bytecodes, statements) with ``counter``; else (CPU µs,)."""
    from benchmarks.b2_wecom import jifen_app
    from bot.app import DB_KEY
    from tests.fakes.wecom_server import FakeWeComAPI

    out: Figures = {}
    async with FakeWeComAPI() as api:
        app = await jifen_app(db_url, api.base_url)
        runner = web.AppRunner(app)  # starts and stops the app as serving would, with no socket
        await runner.setup()
        try:
            await enrol(app, args.employees)
            statements = count_db_statements(app[DB_KEY])
            for kind in (*KINDS, "redeem"):
                out[kind] = (await measure(app, kind, args.n, args.employees, counter, statements)
                             if counter is not None else (await cpu(app, kind, args.n, args.employees),))
        finally:
            await runner.cleanup()
    return out


def each_database(args: argparse.Namespace, counter: Counter | None) -> dict[str, Figures]:
    found: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp:
        found["sqlite"] = asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/counts.db", args, counter))
    if args.postgres:
        url, drop = pg_database(args.postgres, "counts")
        try:
            found["postgres"] = asyncio.run(run(url, args, counter))
        finally:
            drop()
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=20, help="events of each kind (after one untimed)")
    ap.add_argument("--employees", type=int, default=50)
    ap.add_argument("--postgres", default=os.environ.get("JIFEN_TEST_POSTGRES_URL"),
                    help="also run on a fresh database next to this PostgreSQL URL")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    counter = Counter()
    counter.install()
    try:
        counted = each_database(args, counter)
    finally:
        counter.uninstall()
    # a second run without the hook (it slows every call even while off): the CPU per event;
    # its database lanes are new threads, started after the hook was removed
    timed = each_database(args, None)
    for name, figures in counted.items():
        print(f"{name}: per event, one at a time ({args.n} of each kind after {WARM} uncounted)")
        for kind, (calls, opcodes, sql) in figures.items():
            print(f"  {kind:<8} {calls:>8,.0f} Python calls {opcodes:>10,.0f} bytecodes "
                  f"{sql:5.1f} SQL statements   (CPU {timed[name][kind][0]:,.0f} µs)")


if __name__ == "__main__":
    main()
