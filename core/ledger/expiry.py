"""The expiry sweep, set-based: a batch of due lots costs a handful of statements, not a dozen
per lot, so 100,000 due lots expire in seconds (benchmark B4).

Each lot still gets its own balanced transaction with key ``expire:<lot id>`` (the same key the
per-lot path uses), so the sweep stays idempotent and ``jifen ledger verify`` sees nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Account, Entry, LedgerTransaction, Lot

REASON = "积分过期"


async def _due(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int, int]]:
    rows = await session.execute(
        select(Lot.id, Lot.account_id, Lot.remaining)
        .where(Lot.remaining > 0, Lot.expires_at <= now).order_by(Lot.id).limit(limit))
    return [(int(a), int(b), int(c)) for a, b, c in rows]


async def _lock_and_reread(session: AsyncSession, lots: list[tuple[int, int, int]],
                           now: datetime) -> list[tuple[int, int, int]]:
    # Accounts in id order (the order every other writer uses) before their lots are changed;
    # re-read after the lock: a spend or a refund may have moved the lots meanwhile.
    accounts = sorted({acc for _lot, acc, _rem in lots})
    await session.execute(select(Account.id).where(Account.id.in_(accounts))
                          .order_by(Account.id).with_for_update())
    rows = await session.execute(
        select(Lot.id, Lot.account_id, Lot.remaining)
        .where(Lot.id.in_([lot for lot, _a, _r in lots]), Lot.remaining > 0, Lot.expires_at <= now)
        .order_by(Lot.id))
    return [(int(a), int(b), int(c)) for a, b, c in rows]


async def expire_batch(session: AsyncSession, *, now: datetime, expired_account_id: int,
                       limit: int = 2000) -> tuple[int, int]:
    """Expire up to ``limit`` due lots; returns (lots expired, points expired)."""
    lots = await _lock_and_reread(session, await _due(session, now, limit), now)
    if not lots:
        return 0, 0
    # Core statements on the tables: the ORM's bulk path would run them row by row
    tx_t, entry_t, lot_t, acc_t = (cast(Table, m.__table__)
                                   for m in (LedgerTransaction, Entry, Lot, Account))
    tx_rows = await session.execute(
        insert(tx_t).returning(tx_t.c.id, tx_t.c.idempotency_key),
        [{"idempotency_key": f"expire:{lot}", "kind": "expire", "actor": "system",
          "reason": REASON, "ref": None, "created_at": now} for lot, _a, _r in lots])
    tx_of = {key: tx for tx, key in tx_rows}
    entries = []
    per_account: dict[int, int] = defaultdict(int)
    for lot, acc, rem in lots:
        tx = tx_of[f"expire:{lot}"]
        entries += [{"transaction_id": tx, "account_id": acc, "amount": -rem, "lot_id": lot},
                    {"transaction_id": tx, "account_id": expired_account_id, "amount": rem,
                     "lot_id": None}]
        per_account[acc] += rem
    await session.execute(insert(entry_t), entries)
    await session.execute(update(lot_t).where(lot_t.c.id.in_([lot for lot, _a, _r in lots]))
                          .values(remaining=0))
    await session.execute(
        update(acc_t).where(acc_t.c.id == bindparam("acc"))
        .values(balance=acc_t.c.balance - bindparam("points")),
        [{"acc": acc, "points": pts} for acc, pts in per_account.items()])
    session.expire_all()  # lots or accounts already loaded in this session are now stale
    return len(lots), sum(per_account.values())
