"""webhook secrets encrypted at rest and rotatable with an overlap (issue 11 item 6)

Revision ID: f6b4d6f8c006
Revises: f3a3c5e7b903
Create Date: 2026-12-01 07:00:00.000000

``secret`` becomes ``secret_sealed``: each secret stored in plain text is encrypted with the key
the service itself resolves (``ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY``, or in the embedded
default ``<keys>/webhook-secrets.key``; see ``isp_notifications.delivery.sealing``). The key is
looked up only when there is a secret to encrypt. The downgrade decrypts them again.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'f6b4d6f8c006'
down_revision = 'f3a3c5e7b903'
branch_labels = None
depends_on = None

def _box():  # the service's own key resolution, from the environment
    from isp_notifications.delivery.sealing import box_for
    from isp_notifications.settings import Settings

    return box_for(Settings())


def _rewrite(column: str, plain: bool, change) -> None:
    table = sa.table('notifications_subscription', sa.column('id', sa.String()), sa.column(column, sa.String()))
    connection = op.get_bind()
    rows = [r for r in connection.execute(sa.select(table.c.id, table.c[column])) if r[1].startswith('whsec_') == plain]
    if not rows:
        return
    box = _box()
    for sub_id, value in rows:
        connection.execute(table.update().where(table.c.id == sub_id).values({column: change(box, value)}))


def upgrade() -> None:
    _rewrite('secret', True, lambda box, value: box.seal(value))
    with op.batch_alter_table('notifications_subscription', schema=None) as batch_op:
        batch_op.alter_column('secret', new_column_name='secret_sealed', existing_type=sa.String(), existing_nullable=False)
        batch_op.add_column(sa.Column('previous_secret_sealed', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications_subscription', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_until')
        batch_op.drop_column('previous_secret_sealed')
        batch_op.alter_column('secret_sealed', new_column_name='secret', existing_type=sa.String(), existing_nullable=False)
    _rewrite('secret', False, lambda box, value: box.open(value))
