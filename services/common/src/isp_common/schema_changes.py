"""Changes to the tables every service has (:mod:`isp_common.tables`), made by each service's own
Alembic migration: written once here, so that the five migrations cannot drift apart. Each is
called from inside a migration (it uses Alembic's ``op``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from .tables import UNSENT, UNSENT_EVENT_ID_INDEX

_FULL_EVENT_ID_INDEX = "ix_outbox_message_event_id"


def index_only_unsent_outbox_rows() -> None:
    """The outbox's event-id index keeps only the rows not yet published (issue 12)."""
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(_FULL_EVENT_ID_INDEX)
        batch_op.create_index(
            UNSENT_EVENT_ID_INDEX,
            ["event_id"],
            unique=False,
            sqlite_where=sa.text(UNSENT),
            postgresql_where=sa.text(UNSENT),
        )


def index_every_outbox_row() -> None:
    """The downgrade of :func:`index_only_unsent_outbox_rows`."""
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(UNSENT_EVENT_ID_INDEX)
        batch_op.create_index(_FULL_EVENT_ID_INDEX, ["event_id"], unique=False)
