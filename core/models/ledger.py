"""Double-entry ledger: accounts, transactions, entries and lots (SPEC section 3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, utcnow


class Account(Base):
    """``emp:<id>`` accounts cache their balance (locked row, CHECK ≥ 0); system accounts don't,
    so hot system rows are never updated and never serialize writers."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("kind <> 'employee' OR balance >= 0", name="balance_nonneg"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # employee | system
    employee_id: Mapped[str | None] = mapped_column(ForeignKey("employees.employee_id"), unique=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500), default="")
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    entries: Mapped[list[Entry]] = relationship(back_populates="transaction", lazy="selectin")


class Entry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        # migration 0005 (B6): the monthly report's sums read only this index
        Index("ix_ledger_entries_tx_account_amount", "transaction_id", "account_id", "amount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # looked up through ix_ledger_entries_tx_account_amount, whose first column it is (0013)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")


class Lot(Base):
    """A credit to an employee with its own expiry; ``remaining`` is what is left to spend."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_pos"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    amount: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """Result of a state change keyed by its idempotency key; a repeat returns ``result``."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ReminderMark(Base):
    """An expiry reminder already sent for a lot at a threshold (each at most once)."""

    __tablename__ = "reminder_marks"
    __table_args__ = (UniqueConstraint("lot_id", "days"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
