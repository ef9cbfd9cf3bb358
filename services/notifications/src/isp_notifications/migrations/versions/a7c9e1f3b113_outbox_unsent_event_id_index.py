"""the outbox's event-id index holds only rows not yet published (issue 12)

Revision ID: a7c9e1f3b113
Revises: ed6417d9aed2
Create Date: 2026-12-01 21:00:00.000000
"""
from isp_common.schema_changes import index_every_outbox_row, index_only_unsent_outbox_rows


revision = 'a7c9e1f3b113'
down_revision = 'ed6417d9aed2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_only_unsent_outbox_rows()


def downgrade() -> None:
    index_every_outbox_row()
