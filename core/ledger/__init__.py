"""Double-entry ledger service (SPEC section 3)."""

from core.ledger.service import (
    Balance,
    HistoryLine,
    PostedEntry,
    Posting,
    Spendable,
    balance,
    balance_of,
    credit,
    debit,
    employee_account,
    expire_due,
    history,
    hold,
    refund,
    spendable,
    spendable_points,
    system_account,
    transfer,
)

__all__ = [
    "Balance", "HistoryLine", "PostedEntry", "Posting", "Spendable", "balance", "balance_of",
    "credit", "debit", "employee_account", "expire_due", "history", "hold", "refund", "spendable",
    "spendable_points", "system_account", "transfer",
]
