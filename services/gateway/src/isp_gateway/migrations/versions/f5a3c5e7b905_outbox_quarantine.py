"""outbox rows the relay cannot publish are quarantined (issue 11 item 4)

Revision ID: f5a3c5e7b905
Revises: 0e0c00e8dca7
Create Date: 2026-12-01 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f5a3c5e7b905'
down_revision = '0e0c00e8dca7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
