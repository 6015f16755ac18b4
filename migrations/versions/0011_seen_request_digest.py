"""what a replay guard's request asked for, so its identical retry is answered, not refused

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seen_requests") as batch:
        batch.add_column(sa.Column("request", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seen_requests") as batch:
        batch.drop_column("request")
