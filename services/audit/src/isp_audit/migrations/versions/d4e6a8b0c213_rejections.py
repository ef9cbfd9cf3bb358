"""rejections: dead-lettered events kept once each, for their organisation and for repair (issues 13, 14)

Revision ID: d4e6a8b0c213
Revises: c3f5a1d7e210
Create Date: 2026-12-01 06:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'd4e6a8b0c213'
down_revision = 'c3f5a1d7e210'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
