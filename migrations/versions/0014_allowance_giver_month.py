"""allowance_uses indexed by (giver_id, month): the allowance a giver used this month is read by
every award and every balance, and with only the two one-column indexes SQLite (which keeps no
statistics) searched by month, reading every giver's uses of the month

Revision ID: 0014
Revises: 0013
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_allowance_uses_giver_month", "allowance_uses", ["giver_id", "month"])
    # (giver_id) is the first column of the new index
    op.drop_index("ix_allowance_uses_giver_id", table_name="allowance_uses")


def downgrade() -> None:
    op.create_index("ix_allowance_uses_giver_id", "allowance_uses", ["giver_id"])
    op.drop_index("ix_allowance_uses_giver_month", table_name="allowance_uses")
