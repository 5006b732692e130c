"""Users: staff of each kecamatan, kabupaten watchers and administrators (``services/accounts``).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("now()")

ROLES = ("staf", "kasi", "sekcam", "camat", "kabupaten", "admin")
KECAMATAN_ROLES = ("staf", "kasi", "sekcam", "camat")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("full_name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.Text, sa.ForeignKey("tenancy.kecamatan.slug"), nullable=True),
        sa.Column("kabupaten", sa.Text, nullable=True),
        sa.Column("unit", sa.Text, nullable=True),
        sa.Column("nip", sa.Text, nullable=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("username ~ '^[a-z0-9._-]{3,64}$'", name="users_username_format"),
        sa.CheckConstraint(f"role IN ({_in(ROLES)})", name="users_role_known"),
        sa.CheckConstraint(
            f"role NOT IN ({_in(KECAMATAN_ROLES)}) OR kecamatan IS NOT NULL", name="users_staff_have_kecamatan"
        ),
        sa.CheckConstraint(
            "role <> 'kabupaten' OR (kabupaten IS NOT NULL AND kecamatan IS NULL)", name="users_kabupaten_scope"
        ),
        sa.CheckConstraint("role <> 'kasi' OR unit IS NOT NULL", name="users_kasi_have_unit"),
        sa.CheckConstraint("nip IS NULL OR nip ~ '^[0-9]{18}$'", name="users_nip_format"),
        sa.CheckConstraint("length(full_name) > 0", name="users_full_name_present"),
        schema="tenancy",
    )
    op.create_index("users_kecamatan", "users", ["kecamatan"], schema="tenancy")


def downgrade() -> None:
    op.drop_index("users_kecamatan", table_name="users", schema="tenancy")
    op.drop_table("users", schema="tenancy")
