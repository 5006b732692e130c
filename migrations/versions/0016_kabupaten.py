"""Kabupaten as reference data with settings of their own (issue #15 item 6): the time zone every date people
see is shown in (WIB, WITA or WIT), the office hours the kabupaten's decree sets (a kecamatan may still set its
own), and the extra non-working days and moved cuti bersama of its decrees. One row per kabupaten the
kecamatan already name.

Revision ID: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kabupaten",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("settings", sa.dialects.postgresql.JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("length(btrim(name)) > 0", name="kabupaten_name_present"),
        schema="tenancy",
    )
    op.execute(
        "INSERT INTO tenancy.kabupaten (slug, name) "
        "SELECT DISTINCT ON (kabupaten_slug) kabupaten_slug, kabupaten_name FROM tenancy.kecamatan "
        "ORDER BY kabupaten_slug, kabupaten_name"
    )


def downgrade() -> None:
    op.drop_table("kabupaten", schema="tenancy")
