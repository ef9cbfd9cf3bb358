"""the outbox's event-id index holds only rows not yet published (issue 12)

Revision ID: a7c9e1f3b112
Revises: f2a3c5e7b902
Create Date: 2026-12-01 21:00:00.000000
"""
from isp_common.schema_changes import index_every_outbox_row, index_only_unsent_outbox_rows


revision = 'a7c9e1f3b112'
down_revision = 'f2a3c5e7b902'
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_only_unsent_outbox_rows()


def downgrade() -> None:
    index_every_outbox_row()
