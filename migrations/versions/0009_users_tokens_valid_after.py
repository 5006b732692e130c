"""Users: tokens issued before ``tokens_valid_after`` are refused (deactivation, a new password, a change of
role or kecamatan end every session of that user at once; shared.auth.TokenGuard).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True),
        schema="tenancy",
    )


def downgrade() -> None:
    op.drop_column("users", "tokens_valid_after", schema="tenancy")
