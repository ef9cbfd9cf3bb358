"""rejections: dead-lettered events kept once each, for their organisation and for repair (issues 13, 14)

audit_rejection is not part of the hash chain and not append-only: a replay marks its row.

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
    op.create_table(
        'audit_rejection',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('origin', sa.Text(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=True),
        sa.Column('offset', sa.Integer(), nullable=True),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('org', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('rejected_by', sa.Text(), nullable=False),
        sa.Column('key', sa.LargeBinary(), nullable=True),
        sa.Column('value', sa.LargeBinary(), nullable=True),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('replay_of', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('replays', sa.Integer(), nullable=False),
        sa.Column('replayed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('replayed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('id'),
        sa.UniqueConstraint('origin'),
    )
    with op.batch_alter_table('audit_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_rejection_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_rejection_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_rejection_org'), ['org'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_rejection_replay_of'), ['replay_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_rejection_topic'), ['topic'], unique=False)


def downgrade() -> None:
    op.drop_table('audit_rejection')
