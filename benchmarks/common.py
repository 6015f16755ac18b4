"""Helpers shared by the benchmarks: a throwaway PostgreSQL database, the policy file, figures."""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Database, admin_execute

POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "policy.yaml"


def pg_database(admin_url: str, tag: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database next to ``admin_url``; returns its URL and a function dropping it."""
    from sqlalchemy.engine import make_url

    name = f"jifen_bench_{tag}_{os.getpid()}"
    asyncio.run(admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (``q`` in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class CollectorTime:
    """How long this process's cyclic garbage collector ran while the block ran (every thread's
    collections; a collection stops them all): total and longest pause, in seconds."""

    def __init__(self) -> None:
        self.total = self.longest = 0.0
        self._began = 0.0

    def __enter__(self) -> CollectorTime:
        gc.callbacks.append(self._observe)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._observe)

    def _observe(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began:
            took = time.perf_counter() - self._began
            self.total += took
            self.longest = max(self.longest, took)


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def count_statements(engine: AsyncEngine) -> list[int]:
    """A one-element counter of the SQL statements ``engine`` executes from now on."""
    counter = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        counter[0] += 1

    if engine.dialect.name == "sqlite":
        # SQLite's BEGIN travels with the transaction's first statement (core.db), so it is not
        # a cursor execution of its own; it is still a statement the database runs
        @event.listens_for(engine.sync_engine, "begin")
        def _count_begin(*_args: object) -> None:
            counter[0] += 1

    return counter


class StatementCounter(list):  # type: ignore[type-arg]
    """A counter list whose [0] reads and resets the writer's and the reader's counters together;
    ``measure`` appends the (a) phase's count to it."""

    def __init__(self, *counters: list[int]) -> None:
        super().__init__([0])
        self._counters = counters

    def __getitem__(self, i: int) -> int:  # type: ignore[override]
        if i == 0:
            return sum(c[0] for c in self._counters)
        return int(super().__getitem__(i))

    def __setitem__(self, i: int, value: int) -> None:  # type: ignore[override]
        if i == 0:
            for c in self._counters:
                c[0] = 0
            return
        super().__setitem__(i, value)


def count_db_statements(db: Database) -> StatementCounter:
    """Statements of a Database's writer and (on SQLite) reader engines, counted together."""
    counters = [count_statements(db.engine)]
    if db.reader is not db.engine:
        counters.append(count_statements(db.reader))
    return StatementCounter(*counters)


def seed_in_child(target: Callable[..., None], *args: object) -> None:
    """Run a seeding function in a spawned process (its memory is not the measured process's)."""
    child = mp.get_context("spawn").Process(target=target, args=args)
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"seeding failed (exit code {child.exitcode})")


def each_backend(tag: str, args: argparse.Namespace,
                 run: Callable[[str, str, argparse.Namespace], None]) -> None:
    """``run(url, name, args)`` on a temporary SQLite file (unless --no-sqlite), then on a fresh
    PostgreSQL database next to --postgres (if given), dropped afterwards."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite+aiosqlite:///{tmp}/{tag}.db", "sqlite", args)
    if args.postgres:
        url, drop = pg_database(args.postgres, tag)
        try:
            run(url, "postgres", args)
        finally:
            drop()


BackendsRun = Callable[[argparse.Namespace, list[tuple[str, str]], Any], Coroutine[Any, Any, None]]


def run_with_load_client(tag: str, args: argparse.Namespace, client_main: Callable[[Any], None],
                         banner: str, run: BackendsRun) -> None:
    """Start the load generator in its own spawned process (so it does not share the app's CPU
    time slice), then ``run(args, backends, conn)`` once over every backend; ``args.client_pid``
    is the load generator's pid. The client and any PostgreSQL database are cleaned up after."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    client = ctx.Process(target=client_main, args=(child,), daemon=True)
    client.start()
    args.client_pid = client.pid
    drops: list[Callable[[], None]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            backends = [] if args.no_sqlite else [("sqlite", f"sqlite+aiosqlite:///{tmp}/{tag}.db")]
            if args.postgres:
                url, drop = pg_database(args.postgres, tag)
                drops.append(drop)
                backends.append(("postgres", url))
            print(banner)
            asyncio.run(run(args, backends, parent))
    finally:
        parent.send(None)
        client.join(5)
        if client.is_alive():
            client.terminate()
        for drop in drops:
            drop()
