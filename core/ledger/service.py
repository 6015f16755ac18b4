"""Posting, spending, refunding and expiring points.

Every function takes the session first and keyword-only arguments, never commits, and is
idempotent by ``key``: a repeated key returns the first transaction and changes nothing.
An employee's account row is locked before its lots are read or changed, so concurrent spends
of one employee serialize and balances never go negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Engine,
    Integer,
    ScalarSelect,
    and_,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core import columns, errors
from core.ledger.expiry import expire_batch
from core.models import Account, Employee, Entry, LedgerTransaction, Lot
from core.policy import Policy
from core.rows import table_of
from core.timeutil import default_expiry

ModelT = TypeVar("ModelT")
SYSTEM_ACCOUNTS = ("issuance", "escrow", "redeemed", "expired", "adjustment")
MAX_AMOUNT = 1_000_000_000  # one posting; keeps every sum far inside a 32-bit column


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount: int
    lot_id: int | None = None
    employee: bool = False  # an employee account also keeps a running balance


def _emp_leg(acc: Account, amount: int, lot_id: int | None) -> Leg:
    return Leg(acc.id, amount, lot_id, employee=True)


# The hot statements are built once, with bind parameters, and executed with their values:
# building a statement (coercing every clause, generating its cache key) cost more Python time
# than running it; a prebuilt statement's cache key is memoized, so it goes straight to the
# compiled form SQLAlchemy cached. Core tables where the ORM adds nothing (no objects loaded).
_ACCOUNTS = table_of(Account)
_ENTRIES = table_of(Entry)
_TRANSACTIONS = table_of(LedgerTransaction)
_TX_COLUMNS = (_TRANSACTIONS.c.id, _TRANSACTIONS.c.idempotency_key, _TRANSACTIONS.c.kind,
               _TRANSACTIONS.c.actor, _TRANSACTIONS.c.reason, _TRANSACTIONS.c.ref,
               _TRANSACTIONS.c.created_at)
# a transaction and its entries: a row per entry (every transaction has two or more)
_FIND_TX = (select(*_TX_COLUMNS, _ENTRIES.c.id, _ENTRIES.c.account_id, _ENTRIES.c.amount,
                   _ENTRIES.c.lot_id)
            .join(_ENTRIES, _ENTRIES.c.transaction_id == _TRANSACTIONS.c.id)
            .where(_TRANSACTIONS.c.idempotency_key == bindparam("key"))
            .order_by(_ENTRIES.c.id))
_INSERT_TX = insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id)
_INSERT_LOT = insert(table_of(Lot)).returning(table_of(Lot).c.id)
_ACCOUNT = select(Account).where(Account.employee_id == bindparam("emp"))
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update()
# moves a running balance; on PostgreSQL the UPDATE also takes the row lock
_ADD_BY_ID = (update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("acc"))
              .values(balance=_ACCOUNTS.c.balance + bindparam("delta", type_=Integer)))
_ADD_BY_EMPLOYEE = (update(_ACCOUNTS).where(_ACCOUNTS.c.employee_id == bindparam("emp"))
                    .values(balance=_ACCOUNTS.c.balance + bindparam("delta", type_=Integer))
                    .returning(_ACCOUNTS.c.id))
# executed with a list of rows: SQLAlchemy sends them as one multi-row INSERT … RETURNING
# ("insertmanyvalues"), compiled once; a statement with the rows in .values([...]) has no cache
# key and was compiled on every posting
_INSERT_ENTRIES = insert(_ENTRIES).returning(
    _ENTRIES.c.id, _ENTRIES.c.account_id, _ENTRIES.c.amount, _ENTRIES.c.lot_id)


# System account ids per database (engine): seeded by the migration, referenced by entries so
# never deleted once used; looking them up once per process saves a statement per posting.
_SYSTEM_IDS: WeakKeyDictionary[Engine, dict[str, int]] = WeakKeyDictionary()


@dataclass(frozen=True)
class PostedEntry:
    id: int
    account_id: int
    amount: int
    lot_id: int | None


@dataclass(frozen=True)
class Posting:
    """A ledger transaction as posted (or found by its key), with its entries: plain values, not
    ORM objects. The hot paths post several times per event and read nothing back; making,
    registering and cascading ORM objects for the transaction, its lot and its entries cost
    more Python work than the statements (measured: about a fifth of a chat award)."""
    id: int
    idempotency_key: str
    kind: str
    actor: str
    reason: str
    ref: str | None
    created_at: datetime
    entries: tuple[PostedEntry, ...]


@dataclass(frozen=True)
class Balance:
    employee_id: str
    balance: int
    next_expiry_amount: int
    next_expiry_at: datetime | None


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    amount: int
    kind: str
    reason: str
    ref: str | None


async def system_account(session: AsyncSession, name: str) -> Account:
    if name not in SYSTEM_ACCOUNTS:
        raise ValueError(f"unknown system account {name}")
    acc = await session.scalar(select(Account).where(Account.code == f"system:{name}"))
    if acc is None:  # seeded by migration 0001; re-created if someone deleted it
        acc = Account(code=f"system:{name}", kind="system", balance=0)
        session.add(acc)
        await session.flush()
    return acc


_LOCKED = "jifen.locked_accounts"


@event.listens_for(Session, "after_transaction_end")
def _unlocked(session: Session, tx: SessionTransaction) -> None:
    if tx.parent is None:  # the outer transaction: its row locks are gone
        session.info.pop(_LOCKED, None)


async def _system_leg(session: AsyncSession, name: str, amount: int) -> Leg:
    ids = _SYSTEM_IDS.setdefault(session.sync_session.get_bind(), {})  # type: ignore[arg-type]
    if name not in ids:
        ids[name] = (await system_account(session, name)).id
    return Leg(ids[name], amount)


async def employee_account(session: AsyncSession, employee_id: str, *, lock: bool = False) -> Account:
    """The employee's account, created on first use; ``lock`` takes a row lock (FOR UPDATE).

    A lock holds until the transaction ends, so a second ``lock`` in it reuses the row."""
    locked: dict[str, Account] = session.info.setdefault(_LOCKED, {})
    cached = locked.get(employee_id) if lock else None
    if cached is not None and cached in session and "id" in cached.__dict__:  # not expired
        return cached
    acc = await _employee_account(session, employee_id, lock=lock)
    if lock:
        locked[employee_id] = acc
    return acc


def hold(session: AsyncSession, acc: Account) -> None:
    """Count ``acc`` as locked for the rest of the transaction, so ``employee_account(lock=True)``
    returns it without a statement. Only for an account whose row this transaction has locked,
    or read in a SQLite write transaction: that holds the database's write lock from
    ``BEGIN IMMEDIATE`` on, so the row is current and nobody else can change it until the end."""
    assert acc.employee_id is not None
    session.info.setdefault(_LOCKED, {})[acc.employee_id] = acc


async def _employee_account(session: AsyncSession, employee_id: str, *, lock: bool) -> Account:
    stmt = _ACCOUNT_LOCKED if lock else _ACCOUNT
    params = {"emp": employee_id}
    acc = await session.scalar(stmt, params)
    if acc is None:
        if await session.get(Employee, employee_id) is None:
            raise errors.UnknownEmployee(who=employee_id)
        # A concurrent twin creating the same account fails on the unique code; Database.run retries.
        acc = Account(code=f"emp:{employee_id}", kind="employee", employee_id=employee_id, balance=0)
        session.add(acc)
        await session.flush()
        if lock:
            acc = (await session.scalars(stmt, params)).one()
    return acc


async def find_transaction(session: AsyncSession, key: str) -> Posting | None:
    """The transaction posted under ``key``, with its entries (one statement)."""
    rows = await columns.rows(session, _FIND_TX, {"key": key})
    if not rows:
        return None
    tx_id, key, kind, actor, reason, ref, at = rows[0][:7]
    return Posting(tx_id, key, kind, actor, reason, ref, at,
                   tuple(PostedEntry(*row[7:]) for row in rows))


@dataclass(frozen=True)
class _Opened:
    """A transaction row inserted, its entries not yet."""
    id: int
    key: str
    kind: str
    actor: str
    reason: str
    ref: str | None
    created_at: datetime


async def _open(
    session: AsyncSession, *, key: str, kind: str, actor: str, reason: str, ref: str | None,
    now: datetime,
) -> _Opened:
    reason = reason[:500]
    ((tx_id,),) = await columns.inserted(session, _INSERT_TX, [{
        "idempotency_key": key, "kind": kind, "actor": actor, "reason": reason, "ref": ref,
        "created_at": now}])
    return _Opened(tx_id, key, kind, actor, reason, ref, now)


async def _add_legs(session: AsyncSession, tx: _Opened, legs: list[Leg]) -> Posting:
    if sum(leg.amount for leg in legs) != 0 or len(legs) < 2:
        raise AssertionError(f"unbalanced posting {tx.key}")
    entries = await _insert_entries(session, tx, legs)
    deltas: dict[int, int] = {}
    for leg in legs:
        if leg.employee:
            deltas[leg.account_id] = deltas.get(leg.account_id, 0) + leg.amount
    for account_id, delta in deltas.items():
        await columns.execute(session, _ADD_BY_ID, {"acc": account_id, "delta": delta})
        _sync_balance(session, account_id, delta)
    return Posting(tx.id, tx.key, tx.kind, tx.actor, tx.reason, tx.ref, tx.created_at, entries)


async def _insert_entries(session: AsyncSession, tx: _Opened,
                          legs: list[Leg]) -> tuple[PostedEntry, ...]:
    """All the posting's entries in one multi-row ``INSERT … RETURNING`` (the ORM would send one
    statement per row on SQLite), in the order of the rows returned."""
    rows = await columns.inserted(session, _INSERT_ENTRIES, [
        {"transaction_id": tx.id, "account_id": leg.account_id, "amount": leg.amount,
         "lot_id": leg.lot_id} for leg in legs])
    return tuple(PostedEntry(*row) for row in sorted(rows, key=lambda row: int(row[0])))


def _sync_balance(session: AsyncSession, account_id: int, delta: int) -> None:
    """Keep a loaded (and locked) account object's cached balance equal to the row's, without a
    query: the UPDATE above ran in SQL."""
    acc = session.sync_session.identity_map.get(identity_key(Account, account_id))
    if acc is not None and "balance" in acc.__dict__:
        set_committed_value(acc, "balance", acc.balance + delta)


async def _post(
    session: AsyncSession, *, key: str, kind: str, actor: str, reason: str, ref: str | None,
    now: datetime, legs: list[Leg],
) -> Posting:
    tx = await _open(session, key=key, kind=kind, actor=actor, reason=reason, ref=ref, now=now)
    return await _add_legs(session, tx, legs)


async def credit(
    session: AsyncSession, *, employee_id: str, amount: int, key: str, kind: str, actor: str,
    reason: str, now: datetime, policy: Policy, source: str = "issuance",
    expires_at: datetime | None = None, ref: str | None = None, new_key: bool = False,
) -> Posting:
    """Move ``amount`` from ``system:<source>`` to the employee as a new lot.

    ``new_key``: the caller knows ``key`` cannot have been posted (it names a row inserted in
    this transaction), so the lookup is skipped; the unique key still guards it."""
    if not 0 < amount <= MAX_AMOUNT:
        raise errors.InvalidAmount(amount=amount, min=1, max=MAX_AMOUNT)
    if not new_key and (existing := await find_transaction(session, key)) is not None:
        return existing
    account_id = await _add_to_balance(session, employee_id, amount)
    src = await _system_leg(session, source, -amount)
    tx = await _open(session, key=key, kind=kind, actor=actor, reason=reason, ref=ref, now=now)
    lot_id = await _new_lot(session, account_id, tx, amount,
                            expires_at or default_expiry(now, policy), now)
    # employee=False: the running balance was moved above, with the lock
    return await _add_legs(session, tx, [src, Leg(account_id, amount, lot_id)])


async def _add_to_balance(session: AsyncSession, employee_id: str, amount: int) -> int:
    """Add ``amount`` to the employee's running balance and return the account's id: one
    ``UPDATE … RETURNING`` that also takes the row lock (on PostgreSQL), where a locking
    ``SELECT`` and a later ``UPDATE`` were two. The account is created on first use."""
    params = {"emp": employee_id, "delta": amount}
    account_id = await columns.scalar(session, _ADD_BY_EMPLOYEE, params)
    if account_id is None:  # no account yet (or UnknownEmployee)
        await employee_account(session, employee_id, lock=True)
        account_id = await columns.scalar(session, _ADD_BY_EMPLOYEE, params)
    assert account_id is not None
    _sync_balance(session, account_id, amount)
    return int(account_id)


async def _new_lot(
    session: AsyncSession, account_id: int, tx: _Opened, amount: int, expires_at: datetime,
    now: datetime,
) -> int:
    """A new lot of ``amount`` points; its id."""
    ((lot_id,),) = await columns.inserted(session, _INSERT_LOT, [{
        "account_id": account_id, "transaction_id": tx.id, "amount": amount, "remaining": amount,
        "expires_at": expires_at, "created_at": now}])
    return int(lot_id)


def spendable(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """The condition on ``Lot`` for points that can be spent now (unexpired, some left), for
    callers reading lots together with other rows in one statement (``now`` may be a bind
    parameter of a statement built once)."""
    return and_(Lot.remaining > 0, Lot.expires_at > now)


def spendable_points(
    employee_id: str | ColumnElement[str], now: datetime | BindParameter[datetime],
) -> ScalarSelect[int]:
    """The employee's spendable points (``balance().balance``) as a scalar subquery (either
    argument may be a bind parameter or a column of the enclosing statement)."""
    return (select(func.coalesce(func.sum(Lot.remaining), 0))
            .join(Account, Account.id == Lot.account_id)
            .where(Account.employee_id == employee_id, spendable(now)).scalar_subquery())


@dataclass(frozen=True)
class Spendable:
    """A lot's points that can be spent now (``spendable``), by lot id."""
    lot_id: int
    remaining: int


_LOTS = table_of(Lot)
_SPENDABLE_LOTS = (select(Lot.id, Lot.remaining, Lot.amount, Lot.expires_at, Lot.created_at)
                   .where(Lot.account_id == bindparam("acc"), spendable(bindparam("now")))
                   .order_by(Lot.expires_at, Lot.id))
_SET_REMAINING = (update(_LOTS).where(_LOTS.c.id == bindparam("lot"))
                  .values(remaining=bindparam("left", type_=Integer)))


async def _spendable_lots(session: AsyncSession, account_id: int,
                          now: datetime) -> Sequence[Sequence[Any]]:
    """(id, remaining, amount, expires_at, created_at) of each, soonest expiry first."""
    return await columns.rows(session, _SPENDABLE_LOTS, {"acc": account_id, "now": now})


async def _set_remaining(session: AsyncSession, left: dict[int, int]) -> None:
    """Lots' points left, written as plain rows; a lot loaded as an object in this unit of work
    (a refund's) is kept equal to its row, as a flush would have."""
    await columns.execute_each(session, _SET_REMAINING,
                               [{"lot": lot_id, "left": n} for lot_id, n in left.items()])
    loaded = session.sync_session.identity_map
    for lot_id, n in left.items():
        lot = loaded.get(identity_key(Lot, lot_id))
        if lot is not None:
            set_committed_value(lot, "remaining", n)


async def debit(
    session: AsyncSession, *, employee_id: str, amount: int, key: str, kind: str, actor: str,
    reason: str, now: datetime, to: str = "escrow", ref: str | None = None, new_key: bool = False,
    first_lot: int | None = None, lots: Sequence[Spendable] | None = None,
    account_id: int | None = None,
) -> Posting:
    """Move ``amount`` from the employee to ``system:<to>``, soonest-expiring lots first
    (``first_lot``, if unexpired, before all others: a reversal takes back the very lot it
    reverses).

    Raises InsufficientPoints (changing nothing) if the unexpired lots do not cover it.
    ``new_key`` as in ``credit``. ``lots``: the account's spendable lots (unexpired, points
    left, soonest expiry first), read after its lock in this transaction, so not read again;
    ``account_id``: the employee's account, locked in this transaction (given with ``lots``).
    """
    if not 0 < amount <= MAX_AMOUNT:
        raise errors.InvalidAmount(amount=amount, min=1, max=MAX_AMOUNT)
    if not new_key and (existing := await find_transaction(session, key)) is not None:
        return existing
    if account_id is None or lots is None:
        account_id = (await employee_account(session, employee_id, lock=True)).id
        lots = [Spendable(row[0], row[1]) for row in await _spendable_lots(session, account_id, now)]
    if first_lot is not None:  # stable: the rest keep their order
        lots = sorted(lots, key=lambda lot: lot.lot_id != first_lot)
    available = sum(lot.remaining for lot in lots)
    if available < amount:
        raise errors.InsufficientPoints(balance=available, need=amount)
    legs: list[Leg] = []
    taken: dict[int, int] = {}
    left = amount
    for lot in lots:
        take = min(left, lot.remaining)
        taken[lot.lot_id] = lot.remaining - take
        legs.append(Leg(account_id, -take, lot.lot_id, employee=True))
        left -= take
        if left == 0:
            break
    await _set_remaining(session, taken)
    legs.append(await _system_leg(session, to, amount))
    return await _post(session, key=key, kind=kind, actor=actor, reason=reason, ref=ref, now=now,
                       legs=legs)


async def refund(
    session: AsyncSession, *, original_key: str, key: str, actor: str, reason: str,
    now: datetime, policy: Policy, source: str = "escrow",
) -> Posting | None:
    """Reverse a debit: points go back from ``system:<source>`` to the lots they came from.

    A lot that has expired meanwhile is refunded as a new lot expiring
    ``expiry.refund_lot_days`` after now. Returns None if ``original_key`` was never posted.
    """
    if (existing := await find_transaction(session, key)) is not None:
        return existing
    original = await find_transaction(session, original_key)
    if original is None:
        return None
    spent = [e for e in original.entries if e.amount < 0 and e.lot_id is not None]
    if not spent:
        return None
    acc = await session.get(Account, spent[0].account_id)
    assert acc is not None
    acc = await employee_account(session, acc.employee_id or "", lock=True)
    tx = await _open(session, key=key, kind="refund", actor=actor, reason=reason, ref=original.ref,
                     now=now)
    legs: list[Leg] = []
    for entry in spent:
        lot = await session.get(Lot, entry.lot_id, with_for_update=True)
        assert lot is not None
        if lot.expires_at <= now:
            lot_id = await _new_lot(session, acc.id, tx, -entry.amount,
                                    now + timedelta(days=policy.expiry.refund_lot_days), now)
        else:
            lot.remaining += -entry.amount
            lot_id = lot.id
        legs.append(_emp_leg(acc, -entry.amount, lot_id))
    legs.insert(0, await _system_leg(session, source, sum(e.amount for e in spent)))
    posting = await _add_legs(session, tx, legs)
    await session.flush()  # the lots' new remaining points
    return posting


async def transfer(
    session: AsyncSession, *, source: str, to: str, amount: int, key: str, kind: str,
    actor: str, reason: str, now: datetime, ref: str | None = None,
) -> Posting:
    """Move points between two system accounts (e.g. escrow → redeemed on fulfilment)."""
    if (existing := await find_transaction(session, key)) is not None:
        return existing
    legs = [await _system_leg(session, source, -amount), await _system_leg(session, to, amount)]
    return await _post(session, key=key, kind=kind, actor=actor, reason=reason, ref=ref, now=now,
                       legs=legs)


async def expire_due(session: AsyncSession, *, now: datetime, limit: int = 2000) -> int:
    """Expire up to ``limit`` due lots (set-based, see core.ledger.expiry); returns the points.
    Callers loop until nothing is due, each batch in its own transaction."""
    expired = await system_account(session, "expired")
    _lots, points = await expire_batch(session, now=now, expired_account_id=expired.id, limit=limit)
    return points


async def _known(session: AsyncSession, employee_id: str) -> None:
    if await session.get(Employee, employee_id) is None:
        raise errors.UnknownEmployee(who=employee_id)


_BALANCE = (select(Lot.remaining, Lot.expires_at).join(Account, Account.id == Lot.account_id)
            .where(Account.employee_id == bindparam("emp"), spendable(bindparam("now")))
            .order_by(Lot.expires_at, Lot.id))


def balance_of(employee_id: str, rows: Sequence[Sequence[Any]]) -> Balance:
    """The ``Balance`` from the employee's spendable lots as (remaining, expires_at, …) rows,
    soonest expiry first, for callers that read the lots with other columns."""
    total = sum(row[0] for row in rows)
    nxt = rows[0][1] if rows else None
    nxt_amount = sum(row[0] for row in rows if row[1] == nxt) if nxt else 0
    return Balance(employee_id, total, nxt_amount, nxt)


async def balance(session: AsyncSession, *, employee_id: str, now: datetime) -> Balance:
    """Spendable points (unexpired lots) and the soonest expiry: one read, no writes (an employee
    without an account yet has none), so it runs in a read-only unit of work."""
    rows = (await session.execute(_BALANCE, {"emp": employee_id, "now": now})).all()
    if not rows:
        await _known(session, employee_id)
    return balance_of(employee_id, rows)


_HISTORY = (select(LedgerTransaction.created_at, func.sum(Entry.amount), LedgerTransaction.kind,
                   LedgerTransaction.reason, LedgerTransaction.ref)
            .join(Entry, Entry.transaction_id == LedgerTransaction.id)
            .join(Account, Account.id == Entry.account_id)
            .where(Account.employee_id == bindparam("emp"))
            .group_by(LedgerTransaction.id)
            .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc())
            .limit(bindparam("limit", type_=Integer)))


async def history(session: AsyncSession, *, employee_id: str, limit: int = 10) -> list[HistoryLine]:
    """Net change per transaction for the employee, newest first (one read, no writes)."""
    rows = await columns.rows(session, _HISTORY, {"emp": employee_id, "limit": limit})
    if not rows:
        await _known(session, employee_id)
    return [HistoryLine(at, int(amount), kind, reason, ref) for at, amount, kind, reason, ref in rows]


@dataclass(frozen=True)
class LotLine:
    amount: int
    remaining: int
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class FullHistoryLine:
    at: datetime
    amount: int
    kind: str
    reason: str
    ref: str | None
    actor: str


async def open_lots(session: AsyncSession, *, employee_id: str, now: datetime) -> list[LotLine]:
    """The employee's unexpired lots with points left, soonest expiry first."""
    acc = await employee_account(session, employee_id)
    return [LotLine(amount, remaining, expires_at, created_at) for _id, remaining, amount,
            expires_at, created_at in await _spendable_lots(session, acc.id, now)]


async def full_history(
    session: AsyncSession, *, employee_id: str, limit: int = 1000,
) -> list[FullHistoryLine]:
    """Like ``history`` with the actor of each transaction, for the console."""
    acc = await employee_account(session, employee_id)
    rows = await session.execute(
        select(LedgerTransaction.created_at, func.sum(Entry.amount), LedgerTransaction.kind,
               LedgerTransaction.reason, LedgerTransaction.ref, LedgerTransaction.actor)
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .where(Entry.account_id == acc.id)
        .group_by(LedgerTransaction.id)
        .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc())
        .limit(limit))
    return [FullHistoryLine(at, int(a), k, r, ref, actor) for at, a, k, r, ref, actor in rows]
