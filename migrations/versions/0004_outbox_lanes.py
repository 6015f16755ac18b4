"""outbox priority lanes

Revision ID: 0004
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0007"
branch_labels = None
depends_on = None

# Lane 0 = answers (replies and in-place card updates), lane 1 = pushes and broadcasts.
REPLY_LANE_RECIPIENTS = "recipient NOT LIKE 'employee:%' AND recipient NOT LIKE 'target:%'"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lane", sa.SmallInteger(), nullable=False, server_default="1"))
    op.execute(f"UPDATE outbox SET lane = 0 WHERE {REPLY_LANE_RECIPIENTS}")
    # the claim query: pending rows of one lane in due order
    op.create_index("ix_outbox_claim", "outbox", ["status", "lane", "next_attempt_at", "id"])
    # the per-recipient order check (an earlier row of the same recipient still waiting)
    op.create_index("ix_outbox_recipient_status", "outbox", ["recipient", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_status", table_name="outbox")
    op.drop_index("ix_outbox_claim", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lane")
