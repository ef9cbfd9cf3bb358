"""outbox rows the relay cannot publish are quarantined (issue 11 item 4)

Revision ID: f3a3c5e7b903
Revises: e2b1d8f6a002
Create Date: 2026-12-01 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f3a3c5e7b903'
down_revision = 'e2b1d8f6a002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
