"""audit log, API idempotency and indexes for the HR console and admin API (B6)

Revision ID: 0005
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from core.models.base import UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

# Like the ledger (0002): on PostgreSQL the audit log is append-only in the database itself.
# jifen_append_only() was created by 0002.
PG_GUARDS = (
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION jifen_append_only()
    """,
)
PG_GUARDS_DOWN = ("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_subject"), ["subject"], unique=False)
    # B6: the monthly report sums the entries of a month's transactions per system account;
    # SQLite and PostgreSQL walk the month's transactions (created_at index) and probe this
    # covering index, never reading entry rows.
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_tx_account_amount",
                              ["transaction_id", "account_id", "amount"], unique=False)
    # the order desk lists by state, newest first
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status_id", ["status", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_GUARDS_DOWN:
            op.execute(statement)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_id")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_tx_account_amount")
    op.drop_table("audit_log")
