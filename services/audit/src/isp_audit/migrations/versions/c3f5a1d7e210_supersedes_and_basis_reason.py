"""supersedes (the withheld record a later share replaces) and basis_reason (a professional
judgement's free-text reason, kept with the erasable personal fields): contract v1.1

Both are NULL on every earlier record and chained only when set, so earlier chains verify
unchanged. On SQLite the append-only trigger is dropped here so that start-up
(isp_audit.guard.install_triggers) recreates it naming the new columns; on PostgreSQL start-up
replaces the trigger function anyway.

Downgrade drops both columns: records that carried either no longer verify afterwards.

Revision ID: c3f5a1d7e210
Revises: be62ab80f058
Create Date: 2026-12-10 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'c3f5a1d7e210'
down_revision = 'be62ab80f058'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_disclosure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supersedes', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('basis_reason', sa.Text(), nullable=True))
        batch_op.create_index('ix_audit_disclosure_supersedes', ['supersedes'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_disclosure_erase_only')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_disclosure_erase_only')
    with op.batch_alter_table('audit_disclosure', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_disclosure_supersedes')
        batch_op.drop_column('basis_reason')
        batch_op.drop_column('supersedes')
