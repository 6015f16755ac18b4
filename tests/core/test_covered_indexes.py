"""The indexes of the tables every chat reply and award writes, as migrated: the model's, and
none that a wider one already covers (each is one more B-tree written by every insert, and on
SQLite one more page in the commit's WAL append)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from core.db import Database
from core.models import Base

EXPECTED = {
    "outbox": {"ix_outbox_claim", "ix_outbox_recipient_status", "ix_outbox_status_sent_at"},
    "awards": {"ix_awards_giver_day", "ix_awards_recipient_id", "ix_awards_batch",
               "ix_awards_joined_from"},
    "allowance_uses": {"ix_allowance_uses_giver_month", "ix_allowance_uses_month"},
    "ledger_entries": {"ix_ledger_entries_tx_account_amount", "ix_ledger_entries_account_id",
                       "ix_ledger_entries_lot_id"},
}


@pytest.mark.parametrize("table", sorted(EXPECTED))
async def test_the_migrated_table_has_the_models_indexes_and_none_covered(
        db: Database, table: str) -> None:
    async with db.engine.connect() as conn:
        found = await conn.run_sync(lambda sync: inspect(sync).get_indexes(table))
    migrated = {ix["name"]: tuple(ix["column_names"]) for ix in found if not ix["unique"]}
    declared = {ix.name: tuple(c.name for c in ix.columns)
                for ix in Base.metadata.tables[table].indexes if not ix.unique}
    assert migrated == declared
    assert set(migrated) == EXPECTED[table]
    for name, columns in migrated.items():
        for other, wider in migrated.items():
            assert other == name or wider[:len(columns)] != columns, f"{other} covers {name}"
