"""The outbox's indexes, as migrated: the model's, and none that a wider one already covers
(each is one more B-tree written by every reply's insert, every claim and every send)."""

from __future__ import annotations

from sqlalchemy import inspect

from core.db import Database
from core.models import Base


async def test_the_migrated_outbox_has_the_models_indexes_and_none_covered(db: Database) -> None:
    async with db.engine.connect() as conn:
        found = await conn.run_sync(lambda sync: inspect(sync).get_indexes("outbox"))
    migrated = {ix["name"]: tuple(ix["column_names"]) for ix in found if not ix["unique"]}
    declared = {ix.name: tuple(c.name for c in ix.columns)
                for ix in Base.metadata.tables["outbox"].indexes if not ix.unique}
    assert migrated == declared
    assert set(migrated) == {"ix_outbox_claim", "ix_outbox_recipient_status",
                             "ix_outbox_status_sent_at"}
    for name, columns in migrated.items():
        for other, wider in migrated.items():
            assert other == name or wider[:len(columns)] != columns, f"{other} covers {name}"
