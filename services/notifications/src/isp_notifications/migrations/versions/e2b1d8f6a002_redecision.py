"""open withheld shares, pending closes, refusals, per-share informing

Revision ID: e2b1d8f6a002
Revises: d1a0c7e5f001
Create Date: 2026-12-01 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'e2b1d8f6a002'
down_revision = 'd1a0c7e5f001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
