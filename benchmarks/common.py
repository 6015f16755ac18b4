"""Helpers shared by the benchmarks: a throwaway PostgreSQL database, the policy file, figures."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable, Sequence
from pathlib import Path

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


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def count_statements(engine: AsyncEngine) -> list[int]:
    """A one-element counter of the SQL statements ``engine`` executes from now on."""
    counter = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
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
