"""system accounts and PostgreSQL ledger guards

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SYSTEM_ACCOUNTS = ("issuance", "escrow", "redeemed", "expired", "adjustment")

# On PostgreSQL the database itself refuses an unbalanced transaction: a deferred constraint
# trigger checks, at commit, that the entries of every touched transaction sum to zero (the
# django-hordak approach). Entries and transactions are append-only: UPDATE/DELETE is refused.
PG_LEDGER_GUARDS = (
    """
    CREATE FUNCTION jifen_check_balanced() RETURNS trigger AS $$
    DECLARE total bigint;
    BEGIN
        SELECT COALESCE(SUM(amount), 0) INTO total FROM ledger_entries
            WHERE transaction_id = NEW.transaction_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced (sum %)', NEW.transaction_id, total
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION jifen_check_balanced()
    """,
    """
    CREATE FUNCTION jifen_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION jifen_append_only()
    """,
    """
    CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
        FOR EACH ROW EXECUTE FUNCTION jifen_append_only()
    """,
)
PG_LEDGER_GUARDS_DOWN = (
    "DROP TRIGGER IF EXISTS ledger_transactions_append_only ON ledger_transactions",
    "DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries",
    "DROP TRIGGER IF EXISTS ledger_entries_balanced ON ledger_entries",
    "DROP FUNCTION IF EXISTS jifen_append_only()",
    "DROP FUNCTION IF EXISTS jifen_check_balanced()",
)


def _seed_system_accounts() -> None:
    accounts = sa.table(
        "accounts", sa.column("code", sa.String), sa.column("kind", sa.String),
        sa.column("balance", sa.Integer),
    )
    op.bulk_insert(accounts, [
        {"code": f"system:{name}", "kind": "system", "balance": 0} for name in SYSTEM_ACCOUNTS
    ])


def upgrade() -> None:
    _seed_system_accounts()
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_LEDGER_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_LEDGER_GUARDS_DOWN:
            op.execute(statement)
    op.execute("DELETE FROM accounts WHERE kind = 'system'")
