"""the outbox without the indexes that wider ones already cover: each reply's insert and each
claim and send updated seven B-trees, now four

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# (status) is the first column of ix_outbox_claim and ix_outbox_status_sent_at, (recipient) of
# ix_outbox_recipient_status; no query filters or orders by next_attempt_at alone (the claim
# reads it through ix_outbox_claim)
_COVERED = {"ix_outbox_status": ["status"], "ix_outbox_recipient": ["recipient"],
            "ix_outbox_next_attempt_at": ["next_attempt_at"]}


def upgrade() -> None:
    for name in _COVERED:
        op.drop_index(name, table_name="outbox")


def downgrade() -> None:
    for name, columns in _COVERED.items():
        op.create_index(name, "outbox", columns)
