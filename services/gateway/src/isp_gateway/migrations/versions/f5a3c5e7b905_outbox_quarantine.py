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
    op.create_table('outbox_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('traceparent', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('quarantined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_quarantine_event_id'), ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_quarantine_event_id'))

    op.drop_table('outbox_quarantine')
