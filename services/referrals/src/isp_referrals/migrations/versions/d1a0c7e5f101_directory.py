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
    pass


def downgrade() -> None:
    pass
