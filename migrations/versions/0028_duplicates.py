"""Possible duplicates (issue #18 item 3): filled by its work.

Revision ID: 0028
"""

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
