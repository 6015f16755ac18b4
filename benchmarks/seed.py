"""Bulk seeding for the benchmarks with SQLAlchemy core inserts (executemany), consistent with
the ledger so ``core.ledger.verify`` passes afterwards.

Each lot is posted the way ``core.ledger.credit`` posts it: its own ``grant`` transaction
(key ``seed:<lot id>``) with two entries, ``system:issuance -amount`` and ``emp:<id> +amount``
carrying the lot id; the account's cached balance is the sum of its lots. Ids are assigned here
(after the highest existing id), so lots, transactions and entries are written without
round trips, employee by employee in chunks, one transaction per chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, insert, select, text

from core.db import Database, admin_execute
from core.models import Account, Employee, Entry, LedgerTransaction, Lot

Expiry = Callable[[int, int], datetime]
"""(employee index, lot index within the employee) -> the lot's expires_at."""


def employee_id(prefix: str, i: int) -> str:
    return f"{prefix}{i:06d}"


async def bulk_seed(db: Database, *, employees: int, lots_per_employee: int, amount: int,
                    expires: Expiry, now: datetime, prefix: str = "B", chunk: int = 2000,
                    progress: Callable[[str], None] | None = None) -> float:
    """Insert ``employees`` employees with ``lots_per_employee`` lots of ``amount`` points each.

    Returns the seconds it took.
    """
    start = time.perf_counter()
    async with db.engine.begin() as conn:
        issuance = await conn.scalar(select(Account.id).where(Account.code == "system:issuance"))
        acc0 = int(await conn.scalar(select(func.coalesce(func.max(Account.id), 0))) or 0) + 1
        tx0 = int(await conn.scalar(
            select(func.coalesce(func.max(LedgerTransaction.id), 0))) or 0) + 1
        lot0 = int(await conn.scalar(select(func.coalesce(func.max(Lot.id), 0))) or 0) + 1
        entry0 = int(await conn.scalar(select(func.coalesce(func.max(Entry.id), 0))) or 0) + 1
    if issuance is None:
        raise RuntimeError("system:issuance missing: run the migrations first")
    k = lots_per_employee
    for lo in range(0, employees, chunk):
        hi = min(employees, lo + chunk)
        emps, accs, txs, lots, entries = [], [], [], [], []
        for i in range(lo, hi):
            eid = employee_id(prefix, i)
            acc_id = acc0 + i
            emps.append({"employee_id": eid, "name": f"bench{i}", "department": f"D{i % 50}",
                         "manager_id": None, "roles": "", "wecom_userid": None,
                         "dingtalk_userid": None, "hire_date": None, "birthday": None,
                         "locale": "zh", "mobile": None, "email": None, "active": True,
                         "created_at": now, "updated_at": now})
            accs.append({"id": acc_id, "code": f"emp:{eid}", "kind": "employee",
                         "employee_id": eid, "balance": amount * k})
            for j in range(k):
                n = i * k + j
                tx_id, lot_id = tx0 + n, lot0 + n
                txs.append({"id": tx_id, "idempotency_key": f"seed:{lot_id}", "kind": "grant",
                            "actor": "bench", "reason": "seed", "ref": None, "created_at": now})
                lots.append({"id": lot_id, "account_id": acc_id, "transaction_id": tx_id,
                             "amount": amount, "remaining": amount, "expires_at": expires(i, j),
                             "created_at": now})
                entries.append({"id": entry0 + 2 * n, "transaction_id": tx_id,
                                "account_id": issuance, "amount": -amount, "lot_id": None})
                entries.append({"id": entry0 + 2 * n + 1, "transaction_id": tx_id,
                                "account_id": acc_id, "amount": amount, "lot_id": lot_id})
        async with db.engine.begin() as conn:
            # parents before children: the foreign keys are enforced on SQLite too
            for model, rows in ((Employee, emps), (Account, accs), (LedgerTransaction, txs),
                                (Lot, lots), (Entry, entries)):
                await conn.execute(insert(model), rows)
        if progress is not None:
            progress(f"seeded {hi}/{employees} employees, {hi * k} lots "
                     f"({time.perf_counter() - start:.0f} s)")
    if not db.is_sqlite:
        async with db.engine.begin() as conn:
            # explicit ids do not advance PostgreSQL's sequences; the app's next inserts would
            # collide with the seeded rows
            for table in ("accounts", "ledger_transactions", "lots", "ledger_entries"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
        await admin_execute(db.url, "ANALYZE")  # the planner needs statistics after a bulk load
    return time.perf_counter() - start
