"""awards and ledger entries without the indexes a wider one covers: every chat award wrote two
B-trees that nothing needed

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (transaction_id) is the first column of ix_ledger_entries_tx_account_amount
    op.drop_index("ix_ledger_entries_transaction_id", table_name="ledger_entries")
    # no query reads awards by day alone; the pair limit asks (giver_id, day) and every other
    # query by giver asks giver_id, the first column of the new index
    op.create_index("ix_awards_giver_day", "awards", ["giver_id", "day"])
    op.drop_index("ix_awards_giver_id", table_name="awards")
    op.drop_index("ix_awards_day", table_name="awards")


def downgrade() -> None:
    op.create_index("ix_awards_day", "awards", ["day"])
    op.create_index("ix_awards_giver_id", "awards", ["giver_id"])
    op.drop_index("ix_awards_giver_day", table_name="awards")
    op.create_index("ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"])
