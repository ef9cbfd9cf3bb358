"""outbox rows the relay cannot publish are quarantined (issue 11 item 4)

Revision ID: f2a3c5e7b902
Revises: e7c9b1d3f502
Create Date: 2026-12-01 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f2a3c5e7b902'
down_revision = 'e7c9b1d3f502'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
