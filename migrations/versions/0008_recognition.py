"""recognition: +1 links between awards, appeals

Revision ID: 0008
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joined_from", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_awards_joined_from_awards"), "awards",
                                    ["joined_from"], ["id"])
        batch_op.create_index(batch_op.f("ix_awards_joined_from"), ["joined_from"], unique=False)
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appellant_id", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["appellant_id"], ["employees.employee_id"],
                                name=op.f("fk_appeals_appellant_id_employees")),
        sa.ForeignKeyConstraint(["approval_id"], ["approval_requests.id"],
                                name=op.f("fk_appeals_approval_id_approval_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("subject_kind", "subject_id",
                            name=op.f("uq_appeals_subject_kind")),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_appellant_id"), ["appellant_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appeals_appellant_id"))
    op.drop_table("appeals")
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_awards_joined_from"))
        batch_op.drop_constraint(batch_op.f("fk_awards_joined_from_awards"), type_="foreignkey")
        batch_op.drop_column("joined_from")
