"""register pages: what listing, closing and reviewing entries need (issue 13)

The partnership directory (the other DSL's name and contact on a cross-area match), a searchable
name on each entry, and each organisation's record of contacting the other about a match.

Revision ID: e7c9b1d3f502
Revises: cae27843d7a0
Create Date: 2026-12-01 06:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'e7c9b1d3f502'
down_revision = 'cae27843d7a0'
branch_labels = None
depends_on = None


def _search_name(person: dict) -> str:
    return " ".join(p for p in (person.get("given_name"), person.get("family_name")) if p).lower()


def upgrade() -> None:
    # the same table in every service that keeps the directory (isp_common.directory.DirectoryEntry)
    op.create_table(
        "directory_organisation",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dsl_contact", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("out_of_hours", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("register_entry") as batch:
        batch.add_column(sa.Column("search_name", sa.Text(), nullable=False, server_default=""))
    entry = sa.table(
        "register_entry", sa.column("id", sa.String()), sa.column("person", sa.JSON()), sa.column("search_name", sa.Text())
    )
    connection = op.get_bind()
    for entry_id, person in connection.execute(sa.select(entry.c.id, entry.c.person)).all():
        name = _search_name(person or {})
        if name:
            connection.execute(sa.update(entry).where(entry.c.id == entry_id).values(search_name=name))
    op.create_table(
        "register_match_contact",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("match_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entry_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], ["register_cross_area_match.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("register_match_contact") as batch:
        batch.create_index(batch.f("ix_register_match_contact_match_id"), ["match_id"], unique=False)
        batch.create_index(batch.f("ix_register_match_contact_org"), ["org"], unique=False)
        batch.create_index(batch.f("ix_register_match_contact_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("register_match_contact") as batch:
        batch.drop_index(batch.f("ix_register_match_contact_entry_id"))
        batch.drop_index(batch.f("ix_register_match_contact_org"))
        batch.drop_index(batch.f("ix_register_match_contact_match_id"))
    op.drop_table("register_match_contact")
    with op.batch_alter_table("register_entry") as batch:
        batch.drop_column("search_name")
    op.drop_table("directory_organisation")
