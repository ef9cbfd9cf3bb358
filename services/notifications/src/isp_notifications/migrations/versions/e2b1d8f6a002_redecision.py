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
    with op.batch_alter_table('notifications_referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('made_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('threshold_changes', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('notifications_enquiry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('notifications_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('notifications_alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_user_informed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('not_informed_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_table(
        'notifications_pending_fact',
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('fact_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'fact_id', 'event_id'),
    )
    op.create_table(
        'notifications_refusal',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('consent_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('refused_on', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notifications_refusal_nhs_number', 'notifications_refusal', ['nhs_number'])
    op.create_table(
        'notifications_withheld_share',
        sa.Column('alert_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('alert_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('categories', sa.JSON(), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('withheld_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('deadline', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('open_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('released_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('released_basis', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('alert_id'),
    )
    for column in ('sender', 'nhs_number', 'source_event_id', 'open_until', 'state'):
        op.create_index(f'ix_notifications_withheld_share_{column}', 'notifications_withheld_share', [column])
    op.create_table(
        'notifications_source_event',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('event', sa.JSON(), nullable=False),
        sa.Column('kept_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notifications_source_event_kept_until', 'notifications_source_event', ['kept_until'])


def downgrade() -> None:
    op.drop_index('ix_notifications_source_event_kept_until', table_name='notifications_source_event')
    op.drop_table('notifications_source_event')
    for column in ('sender', 'nhs_number', 'source_event_id', 'open_until', 'state'):
        op.drop_index(f'ix_notifications_withheld_share_{column}', table_name='notifications_withheld_share')
    op.drop_table('notifications_withheld_share')
    op.drop_index('ix_notifications_refusal_nhs_number', table_name='notifications_refusal')
    op.drop_table('notifications_refusal')
    op.drop_table('notifications_pending_fact')
    with op.batch_alter_table('notifications_alert', schema=None) as batch_op:
        batch_op.drop_column('not_informed_reason')
        batch_op.drop_column('service_user_informed')
    with op.batch_alter_table('notifications_plan', schema=None) as batch_op:
        batch_op.drop_column('ended_at')
    with op.batch_alter_table('notifications_enquiry', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('notifications_referral', schema=None) as batch_op:
        batch_op.drop_column('threshold_changes')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('made_at')
