"""webhook secrets encrypted at rest and rotatable with an overlap (issue 11 item 6)

Revision ID: f6b4d6f8c006
Revises: f3a3c5e7b903
Create Date: 2026-12-01 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f6b4d6f8c006'
down_revision = 'f3a3c5e7b903'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
