"""the partnership directory (CONTRACT section 9)

Revision ID: d1a0c7e5f001
Revises: 5c1e0a7d9b42
Create Date: 2026-12-01 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'd1a0c7e5f001'
down_revision = '5c1e0a7d9b42'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
