"""pending facts keep who sent them: a change that arrived before its fact is applied only if its
publisher owns the fact (issue 11: a partner may not close or withdraw another organisation's fact)

Earlier rows have no source_org (NULL) and are applied as before.

Revision ID: ed6417d9aed2
Revises: f6b4d6f8c006
Create Date: 2026-12-01 06:09:00.612215
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'ed6417d9aed2'
down_revision = 'f6b4d6f8c006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications_pending_fact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_org', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications_pending_fact', schema=None) as batch_op:
        batch_op.drop_column('source_org')
