"""The monthly report's rollup: stored months + the live delta equal the full scan of the ledger.

A hypothesis test posts random grants, awards, deductions, redemptions (fulfilled, cancelled or
left open), award revocations, corrections (a deduction refunded) and expiry sweeps at times
spread over four months and across local month boundaries, out of time order (a transaction
with a higher id may belong to an earlier month), with folds of random batch sizes in between;
after every fold and at the end, every month's figures read through the rollup equal the full
scan, on SQLite and PostgreSQL. Explicit tests cover what the property does not: PostgreSQL
ids committing out of order, two folders at once, a change of time zone, departments, and the
report's statement count not growing with the ledger.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, update

from core import errors, ledger
from core.db import Database
from core.ledger.verify import verify
from core.models import CatalogItem, Employee, LedgerTransaction, Order, ReportRollup
from core.policy import Policy
from core.reports import rollup
from core.reports.service import month_summary
from tests.conftest import _reset_postgres
from tests.factories import add_employee

T = TypeVar("T")
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
PEOPLE = {"A1": "研发部", "A2": "研发部", "B1": "销售部", "B2": "销售部", "C1": ""}
# Shanghai is UTC+8: 15:59 UTC is 23:59 local, 16:01 UTC the next local day
TIMES = [datetime(2026, 1, 20, 2, 0, tzinfo=UTC), datetime(2026, 1, 31, 15, 59, tzinfo=UTC),
         datetime(2026, 1, 31, 16, 1, tzinfo=UTC), datetime(2026, 2, 14, 9, 0, tzinfo=UTC),
         datetime(2026, 2, 28, 15, 59, tzinfo=UTC), datetime(2026, 2, 28, 16, 1, tzinfo=UTC),
         datetime(2026, 3, 15, 2, 0, tzinfo=UTC), datetime(2026, 3, 31, 16, 1, tzinfo=UTC),
         datetime(2026, 4, 2, 8, 0, tzinfo=UTC)]
NOW = datetime(2026, 4, 5, 2, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # some lots expire within the months

people = st.sampled_from(sorted(PEOPLE))
times = st.sampled_from(TIMES)
amounts = st.integers(1, 60)
operations = st.one_of(
    st.tuples(st.just("grant"), people, amounts, times, st.booleans()),
    st.tuples(st.just("award"), people, amounts, times),
    st.tuples(st.just("deduct"), people, amounts, times),
    st.tuples(st.just("redeem"), people, amounts, times,
              st.sampled_from(["placed", "fulfil", "cancel"])),
    st.tuples(st.just("revoke"), people, amounts, times),
    st.tuples(st.just("correct"), times),
    st.tuples(st.just("expire"), times),
    st.tuples(st.just("fold"), st.integers(1, 4), st.sampled_from([1, 2, None])),
)
SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
PG_SETTINGS = settings(SETTINGS, max_examples=4)


class Books:
    """One example's database and the postings made so far."""

    def __init__(self, url: str, policy: Policy) -> None:
        self.url, self.policy = url, policy
        self.keys = itertools.count()
        self.deductions: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.db = self.run(self._open())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _open(self) -> Database:
        db = Database(self.url)
        if not db.is_sqlite:
            await _reset_postgres(db)
        async with db.uow() as s:
            for emp, dept in PEOPLE.items():
                await add_employee(s, emp, department=dept)
            s.add(CatalogItem(sku="CUP", name="马克杯", points=1))
        return db

    def close(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()

    async def apply(self, op: tuple[Any, ...]) -> None:
        if op[0] == "fold":
            await fold(self.db, self.policy, batch=op[1], max_batches=op[2])
            return
        try:
            async with self.db.uow() as s:
                await self._post(s, op)
        except errors.InsufficientPoints:
            pass  # the debit was refused and changed nothing

    async def _post(self, s: Any, op: tuple[Any, ...]) -> None:
        key, pol = f"k{next(self.keys)}", self.policy
        kind = op[0]
        if kind == "grant":
            _, emp, amount, at, expiring = op
            await ledger.credit(s, employee_id=emp, amount=amount, key=key, kind="grant",
                                actor="HR", reason="发放", now=at, policy=pol,
                                expires_at=EXPIRES if expiring and at < EXPIRES else None)
        elif kind == "award":
            _, emp, amount, at = op
            await ledger.credit(s, employee_id=emp, amount=amount, key=key, kind="award",
                                actor="X", reason="谢谢", now=at, policy=pol)
        elif kind == "deduct":
            _, emp, amount, at = op
            await ledger.debit(s, employee_id=emp, amount=amount, key=key, kind="deduct",
                               actor="HR", reason="扣分", now=at, to="adjustment")
            self.deductions.append(key)
        elif kind == "revoke":  # an award reversed by HR: points back to issuance
            _, emp, amount, at = op
            await ledger.debit(s, employee_id=emp, amount=amount, key=key, kind="award_revoke",
                               actor="HR", reason="撤销", now=at, to="issuance")
        elif kind == "correct" and self.deductions:  # the last deduction was a mistake
            await ledger.refund(s, original_key=self.deductions.pop(), key=key, actor="HR",
                                reason="更正", now=op[1], policy=pol, source="adjustment")
        elif kind == "expire":
            await ledger.expire_due(s, now=op[1])
        elif kind == "redeem":
            await self._redeem(s, key, *op[1:])

    async def _redeem(self, s: Any, key: str, emp: str, amount: int, at: datetime,
                      fate: str) -> None:
        order_no = f"O{key}"
        await ledger.debit(s, employee_id=emp, amount=amount, key=f"redeem:{order_no}",
                           kind="redeem", actor=emp, reason="CUP", now=at, to="escrow",
                           ref=order_no)
        s.add(Order(order_no=order_no, employee_id=emp, sku="CUP", qty=1, points=amount,
                    status="placed", month="2026-03", created_at=at, updated_at=at))
        if fate == "fulfil":
            await ledger.transfer(s, source="escrow", to="redeemed", amount=amount,
                                  key=f"fulfil:{order_no}", kind="fulfil", actor="HR",
                                  reason="发货", now=at + timedelta(hours=1), ref=order_no)
        elif fate == "cancel":
            await ledger.refund(s, original_key=f"redeem:{order_no}", key=f"cancel:{order_no}",
                                actor=emp, reason="取消", now=at, policy=self.policy)


async def fold(db: Database, policy: Policy, *, batch: int = rollup.BATCH,
               max_batches: int | None = None) -> int:
    """Fold what can be folded now (at most ``max_batches`` batches). On PostgreSQL a candidate
    watermark noted by one fold is used by a later one, once no transaction that was running
    then (in any database of the server: other test runs share it) is still running; no lag.
    So there it tries again until something moved or everything visible now is folded."""
    async with db.reading() as s:
        target = int(await s.scalar(select(func.max(LedgerTransaction.id))) or 0)
    moved = await rollup.advance(db, policy, batch=batch, lag=timedelta(0),
                                 max_batches=max_batches)
    for _ in range(400 if not db.is_sqlite else 0):  # up to ~20 s on a busy server
        if moved or await _watermark(db) >= target:
            break
        await asyncio.sleep(0.05)
        moved = await rollup.advance(db, policy, batch=batch, lag=timedelta(0),
                                     max_batches=max_batches)
    return moved


async def agree(db: Database, policy: Policy) -> dict[str, rollup.Figures]:
    """Rollup + delta == full scan for every month; returns the figures."""
    async with db.reading() as s:
        stored = await rollup.month_figures(s, MONTHS, policy)
        full = await rollup.month_figures(s, MONTHS, policy, stored=False)
    assert stored == full
    return stored


def _check(url: str, policy: Policy, ops: list[tuple[Any, ...]]) -> None:
    books = Books(url, policy)
    try:
        for op in ops:
            books.run(books.apply(op))
            if op[0] == "fold":
                books.run(agree(books.db, policy))
        books.run(agree(books.db, policy))
        books.run(fold(books.db, policy))
        books.run(agree(books.db, policy))
    finally:
        books.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rollup_plus_delta_equals_the_full_scan(
    backend: str, request: pytest.FixtureRequest, sqlite_template: Path, policy: Policy,
    tmp_path: Path,
) -> None:
    pg_url = str(request.getfixturevalue("pg_url")) if backend == "postgres" else None
    examples = itertools.count()

    @given(ops=st.lists(operations, min_size=4, max_size=16))
    @(SETTINGS if pg_url is None else PG_SETTINGS)
    def check(ops: list[tuple[Any, ...]]) -> None:
        if pg_url is not None:
            _check(pg_url, policy, ops)
            return
        path = tmp_path / f"example-{next(examples)}.db"
        shutil.copy(sqlite_template, path)
        _check(f"sqlite+aiosqlite:///{path}", policy, ops)

    check()


# ---- explicit cases ---------------------------------------------------------------------------

async def _people(db: Database) -> None:
    async with db.uow() as s:
        for emp, dept in PEOPLE.items():
            await add_employee(s, emp, department=dept)


async def _grant(db: Database, policy: Policy, emp: str, amount: int, key: str,
                 at: datetime = TIMES[6]) -> int:
    async with db.uow() as s:
        tx = await ledger.credit(s, employee_id=emp, amount=amount, key=key, kind="grant",
                                 actor="HR", reason="发放", now=at, policy=policy)
        return tx.id


async def _watermark(db: Database) -> int:
    async with db.reading() as s:
        return int(await s.scalar(select(ReportRollup.watermark)) or 0)


async def test_a_folded_month_reads_stored_rows_and_only_the_newer_postings(
    db: Database, policy: Policy,
) -> None:
    await _people(db)
    for n in range(30):
        await _grant(db, policy, "A1" if n % 2 else "B1", 10, f"g{n}")
    assert await fold(db, policy, batch=7) > 0
    last = await _grant(db, policy, "A2", 5, "late")
    assert await _watermark(db) == last - 1  # everything before the late grant is stored
    figs = (await agree(db, policy))["2026-03"]
    assert rollup.total(figs, "issued") == 305
    assert rollup.by_department(figs, rollup.DEPT_ISSUED) == {"研发部": 155, "销售部": 150}
    async with db.uow() as s:
        summary = await month_summary(s, actor_id="cli", month="2026-03", now=NOW, policy=policy)
        assert await verify(s) == []
    assert summary.issued == 305 and [d.issued for d in summary.by_department] == [155, 150]


async def test_the_report_statement_count_does_not_grow_with_the_ledger(
    db: Database, policy: Policy,
) -> None:
    """Once folded, a month costs the same few statements whether it holds 5 or 60 postings."""
    await _people(db)

    async def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        engine = db.reader.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            async with db.reading() as s:
                await month_summary(s, actor_id="cli", month="2026-03", now=NOW, policy=policy)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len([q for q in seen if not q.startswith(("BEGIN", "COMMIT", "ROLLBACK"))])

    for n in range(5):
        await _grant(db, policy, "A1", 10, f"a{n}")
    await fold(db, policy)
    small = await statements()
    for n in range(55):
        await _grant(db, policy, "B1", 10, f"b{n}")
    await fold(db, policy)
    assert await statements() == small <= 5  # stored rows, the empty delta's span, live parts (lots, items, open orders)


async def test_two_folders_at_once_fold_each_transaction_once(
    db_url: str, policy: Policy,
) -> None:
    """Two replicas (two engines) folding concurrently: the state row's lock lets one fold a
    batch while the other skips it; nothing is counted twice."""
    first, second = Database(db_url), Database(db_url)
    try:
        if not first.is_sqlite:
            await _reset_postgres(first)
        await _people(first)
        for n in range(40):
            await _grant(first, policy, "A1", n + 1, f"g{n}", at=TIMES[n % len(TIMES)])
        for _ in range(3):
            await asyncio.gather(fold(first, policy, batch=3), fold(second, policy, batch=3))
        await fold(first, policy)
        figs = await agree(first, policy)
        assert sum(rollup.total(f, "issued") for f in figs.values()) == sum(range(1, 41))
        async with first.reading() as s:
            top = await s.scalar(select(func.max(LedgerTransaction.id)))
        assert await _watermark(first) == top
    finally:
        await first.dispose()
        await second.dispose()


async def test_another_time_zone_starts_the_rollup_over(db: Database, policy: Policy) -> None:
    await _people(db)
    for n, at in enumerate(TIMES):
        await _grant(db, policy, "A1", 10 + n, f"g{n}", at=at)
    await fold(db, policy)
    utc = policy.model_copy(update={"timezone": "UTC"})
    # months cut at UTC midnight: the stored Shanghai months are not used, the figures still agree
    before = await agree(db, utc)
    await fold(db, utc)
    assert await agree(db, utc) == before
    async with db.reading() as s:
        assert await s.scalar(select(ReportRollup.timezone)) == "UTC"
    assert await _watermark(db) > 0


async def test_a_department_is_counted_as_it_was_when_folded(db: Database, policy: Policy) -> None:
    """Moving someone does not rewrite the months already folded; newer postings count for the
    new department."""
    await _people(db)
    await _grant(db, policy, "A1", 40, "before-move")
    await fold(db, policy)
    async with db.uow() as s:
        await s.execute(update(Employee).where(Employee.employee_id == "A1")
                        .values(department="销售部"))
    await _grant(db, policy, "A1", 2, "after-move")
    async with db.reading() as s:
        figs = (await rollup.month_figures(s, ["2026-03"], policy))["2026-03"]
    assert rollup.by_department(figs, rollup.DEPT_ISSUED) == {"研发部": 40, "销售部": 2}


async def test_postgres_ids_committed_out_of_order_are_not_skipped(
    db: Database, policy: Policy,
) -> None:
    """A transaction holding a lower id commits after a higher id is visible: the fold does not
    move past the lower id until it has committed, so it is counted."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: ids are visible in order")
    await _people(db)
    await _grant(db, policy, "A1", 1, "first")
    async with db.uow() as slow:
        held = await ledger.credit(slow, employee_id="B1", amount=100, key="slow", kind="grant",
                                   actor="HR", reason="发放", now=TIMES[6], policy=policy)
        after = await _grant(db, policy, "A2", 10, "after")  # committed, a higher id
        assert after > held.id
        for _ in range(3):
            await rollup.advance(db, policy, lag=timedelta(0))
        assert await _watermark(db) < held.id  # the running transaction's id is not passed
    # committed now; whatever the watermark, the figures hold it exactly once
    figs = (await agree(db, policy))["2026-03"]
    assert rollup.total(figs, "issued") == 111
    await fold(db, policy)
    assert await _watermark(db) >= after
    assert rollup.total((await agree(db, policy))["2026-03"], "issued") == 111


async def test_the_scheduled_job_folds(db: Database, policy: Policy) -> None:
    from bot.jobs.runner import run_job
    from bot.jobs.scheduler import SCHEDULE

    await _people(db)
    await _grant(db, policy, "A1", 10, "g")
    summary = await run_job("report-rollup", db=db, policy=policy, now=NOW)
    assert summary.startswith("folded ")
    if db.is_sqlite:  # on PostgreSQL other test runs' transactions may hold the horizon back
        assert summary == "folded 1 ledger transactions into the monthly figures"
        assert await _watermark(db) == 1
    assert SCHEDULE["report-rollup"] == {"minute": "*"}
