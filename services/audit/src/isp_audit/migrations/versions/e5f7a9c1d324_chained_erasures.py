"""chained erasures (issue 11 item 7): audit_erasure gains seq, retention_days, prev_hash and hash;
audit_checkpoint gains the erasure chain's head (erasures, erasure_head; NULL on earlier checkpoints)

Existing erasures are chained here, in the order they were made (at, then id), and each gets the
retention it actually applied: whole days from its ``before`` to its ``at``. An erasure made
before its records were past retention therefore fails verify from now on, as it should.

The append-only triggers on audit_erasure are dropped here (on both databases) so that the rows
can be filled; start-up (isp_audit.guard.install_triggers) creates them again.

Downgrade drops the new columns (and the triggers): the erasure chain is gone afterwards.

Revision ID: e5f7a9c1d324
Revises: d4e6a8b0c213
Create Date: 2026-12-01 06:30:00.000000
"""

from datetime import datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op
from isp_audit.domain.retention import erasure_hash

revision = "e5f7a9c1d324"
down_revision = "d4e6a8b0c213"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_erasure_append_only ON audit_erasure")
        op.execute("DROP TRIGGER IF EXISTS audit_erasure_no_truncate ON audit_erasure")
        op.execute("DROP FUNCTION IF EXISTS audit_erasure_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_erasure_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_erasure_no_delete")


def _days(before: str, at: str) -> int:
    gap = datetime.strptime(at, TIME_FORMAT) - datetime.strptime(before, TIME_FORMAT)
    return max(gap.days, 0)


def upgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("audit_erasure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erasures", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("erasure_head", sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    conn = op.get_bind()
    rows = (
        conn.execute(
            sa.text('SELECT id, at, "by", before, records, first_seq, last_seq FROM audit_erasure ORDER BY at, id')
        )
        .mappings()
        .all()
    )
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        fields = {**row, "seq": seq, "retention_days": _days(row["before"], row["at"])}
        digest = erasure_hash(prev, fields)
        conn.execute(
            sa.text(
                "UPDATE audit_erasure SET seq = :seq, retention_days = :days, prev_hash = :prev, hash = :hash "
                "WHERE id = :id"
            ),
            {"seq": seq, "days": fields["retention_days"], "prev": prev, "hash": digest, "id": row["id"]},
        )
        prev = digest

    with op.batch_alter_table("audit_erasure", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("retention_days", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch_op.alter_column("hash", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch_op.create_unique_constraint("uq_audit_erasure_seq", ["seq"])
        batch_op.create_unique_constraint("uq_audit_erasure_prev_hash", ["prev_hash"])
        batch_op.create_unique_constraint("uq_audit_erasure_hash", ["hash"])


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_column("erasure_head")
        batch_op.drop_column("erasures")
    with op.batch_alter_table("audit_erasure", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_erasure_hash", type_="unique")
        batch_op.drop_constraint("uq_audit_erasure_prev_hash", type_="unique")
        batch_op.drop_constraint("uq_audit_erasure_seq", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("seq")
