"""Satisfaction, reopening and keberatan (issue #18 item 1; ADR 0020).

* ``dashboard.complaints``: the complainant's answer to the latest closing (``feedback_satisfied``,
  ``feedback_rating`` 1-4, ``feedback_at``), how many times the complaint was reopened (``reopened``), and a
  keberatan (objection) escalated to the Camat (``objection_at``; ``objection_state`` open | answered). The last
  columns, as the read model's rebuild copies columns in order; the complaints there are have none of them.

Revision ID: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

DASHBOARD = [
    sa.Column("feedback_satisfied", sa.Boolean),
    sa.Column("feedback_rating", sa.SmallInteger),
    sa.Column("feedback_at", sa.DateTime(timezone=True)),
    sa.Column("reopened", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("objection_at", sa.DateTime(timezone=True)),
    sa.Column("objection_state", sa.Text),
]


def upgrade() -> None:
    for column in DASHBOARD:
        op.add_column("complaints", column, schema="dashboard")


def downgrade() -> None:
    for column in reversed(DASHBOARD):
        op.drop_column("complaints", column.name, schema="dashboard")
