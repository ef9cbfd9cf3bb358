"""register pages: what listing, closing and reviewing entries need (issue 13)

Revision ID: e7c9b1d3f502
Revises: cae27843d7a0
Create Date: 2026-12-01 06:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'e7c9b1d3f502'
down_revision = 'cae27843d7a0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
