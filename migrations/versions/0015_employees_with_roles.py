"""employees: a partial index of the rows with a declared role; finding a role's holders (HR for
every new order a person must handle, an approval step's role) read the whole directory

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WITH_ROLES = "roles <> ''"  # core.models.directory.WITH_ROLES, as it was when written


def upgrade() -> None:
    op.create_index("ix_employees_with_roles", "employees", ["employee_id"],
                    sqlite_where=sa.text(WITH_ROLES), postgresql_where=sa.text(WITH_ROLES))


def downgrade() -> None:
    op.drop_index("ix_employees_with_roles", table_name="employees")
