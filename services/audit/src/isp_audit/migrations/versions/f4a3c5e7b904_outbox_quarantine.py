"""outbox rows the relay cannot publish are quarantined (issue 11 item 4)

Revision ID: f4a3c5e7b904
Revises: e5f7a9c1d324
Create Date: 2026-12-01 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f4a3c5e7b904'
down_revision = 'e5f7a9c1d324'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
