"""drop the dead outbox columns attempts and last_error (never written)

Revision ID: 5c1e0a7d9b42
Revises: e1dfcbb6301d
Create Date: 2026-12-01 01:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '5c1e0a7d9b42'
down_revision = 'e1dfcbb6301d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.INTEGER(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_error', sa.VARCHAR(), nullable=True))
