"""provenance (CONTRACT §10, v1.1): how the event that led to a decision proved where it came from
(signed, gateway, service, unsigned). NULL on every earlier record and chained only when set, so
earlier chains verify unchanged. On SQLite the append-only trigger is dropped here so that start-up
(isp_audit.guard.install_triggers) recreates it naming the new column; on PostgreSQL start-up
replaces the trigger function anyway.

Downgrade drops the column: records that carried it no longer verify afterwards.

Revision ID: a1b3c5d7e906
Revises: f4a3c5e7b904
Create Date: 2026-12-01 07:05:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'a1b3c5d7e906'
down_revision = 'f4a3c5e7b904'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_disclosure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provenance', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_disclosure_erase_only')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_disclosure_erase_only')
    with op.batch_alter_table('audit_disclosure', schema=None) as batch_op:
        batch_op.drop_column('provenance')
