"""the partnership directory (CONTRACT section 9)

Revision ID: d1a0c7e5f101
Revises: abbc4737b101
Create Date: 2026-12-01 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'd1a0c7e5f101'
down_revision = 'abbc4737b101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the same table in every service that keeps the directory (isp_common.directory.DirectoryEntry)
    op.create_table(
        "directory_organisation",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dsl_contact", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("out_of_hours", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("directory_organisation")
