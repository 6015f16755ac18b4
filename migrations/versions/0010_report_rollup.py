"""per-month report figures and the fold's watermark (B6)

Revision ID: 0010
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

from core.models.base import UTCDateTime

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_figures",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "metric", "department", name=op.f("pk_report_figures")),
    )
    op.create_table(
        "report_rollup",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("pending_upto", sa.BigInteger(), nullable=True),
        sa.Column("pending_xmax", sa.BigInteger(), nullable=True),
        sa.Column("pending_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_rollup")),
    )
    # the existing ledger is folded in by the first runs of the report-rollup job (in batches);
    # until then the report reads it live, as before
    op.execute("INSERT INTO report_rollup (name, watermark) VALUES ('monthly', 0)")


def downgrade() -> None:
    op.drop_table("report_rollup")
    op.drop_table("report_figures")
