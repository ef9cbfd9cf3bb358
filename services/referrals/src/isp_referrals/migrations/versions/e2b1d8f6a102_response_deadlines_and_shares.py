"""response deadlines, shares to the receiving organisation, requested event id

Revision ID: e2b1d8f6a102
Revises: d1a0c7e5f101
Create Date: 2026-12-01 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'e2b1d8f6a102'
down_revision = 'd1a0c7e5f101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referrals_due', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_referrals_due_due_at'), ['due_at'], unique=False)

    with op.batch_alter_table('referrals_appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unrecorded_raised_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('referrals_share',
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('lawful_basis', sa.JSON(), nullable=True),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('alert_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('audit_record_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source_event_id', 'recipient')
    )


def downgrade() -> None:
    op.drop_table('referrals_share')
    with op.batch_alter_table('referrals_appointment', schema=None) as batch_op:
        batch_op.drop_column('unrecorded_raised_at')

    with op.batch_alter_table('referrals_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_due_due_at'))
        batch_op.drop_column('due_at')
