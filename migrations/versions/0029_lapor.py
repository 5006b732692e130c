"""The SP4N-LAPOR! bridge (issue #18 item 6): filled by its work.

Revision ID: 0029
"""

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
