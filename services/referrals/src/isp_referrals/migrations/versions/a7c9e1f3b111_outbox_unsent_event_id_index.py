"""the outbox's event-id index holds only rows not yet published (issue 12)

Revision ID: a7c9e1f3b111
Revises: f1a3c5e7b901
Create Date: 2026-12-01 21:00:00.000000
"""
from isp_common.schema_changes import index_every_outbox_row, index_only_unsent_outbox_rows


revision = 'a7c9e1f3b111'
down_revision = 'f1a3c5e7b901'
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_only_unsent_outbox_rows()


def downgrade() -> None:
    index_every_outbox_row()
