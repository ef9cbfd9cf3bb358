"""the outbox's event-id index holds only rows not yet published (issue 12)

Revision ID: a7c9e1f3b114
Revises: a1b3c5d7e906
Create Date: 2026-12-01 21:00:00.000000
"""
from isp_common.schema_changes import index_every_outbox_row, index_only_unsent_outbox_rows


revision = 'a7c9e1f3b114'
down_revision = 'a1b3c5d7e906'
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_only_unsent_outbox_rows()


def downgrade() -> None:
    index_every_outbox_row()
