"""Satisfaction, reopening and keberatan (issue #18 item 1; ADR 0020).

* ``intake.tracking``: how many closings with a response there were and when the latest was (the complainant is
  asked after each), the latest the complainant answered (``feedback_closing``: intake takes one answer per
  closing, in the transaction that writes its message), how many times the complaint was reopened, and a
  keberatan's state and the Camat's answer upholding the response (shown, masked, on the tracking page). Existing rows: none of them; a closed, resolved complaint there is counts as one closing
  (set below), so its complainant may answer.
* ``dashboard.complaints``: the complainant's answer to the latest closing (``feedback_satisfied``,
  ``feedback_rating`` 1-4, ``feedback_at``), how many times the complaint was reopened (``reopened``), and a
  keberatan (objection) escalated to the Camat (``objection_at``; ``objection_state`` open | answered); the units
  the figures per unit charge them to (``feedback_unit``: whose response the latest answer judged;
  ``reopened_unit``: whose response the first reopening followed). The last
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
    sa.Column("feedback_unit", sa.Text),
    sa.Column("reopened_unit", sa.Text),
]


INTAKE = [
    sa.Column("closings", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("feedback_closing", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("reopened", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("objection_state", sa.Text),
    sa.Column("objection_answer", sa.Text),
]


def upgrade() -> None:
    for column in INTAKE:
        op.add_column("tracking", column, schema="intake")
    op.execute(
        "UPDATE intake.tracking SET closings = 1, closed_at = updated_at WHERE status = 'closed' AND outcome = 'resolved'"
    )
    for column in DASHBOARD:
        op.add_column("complaints", column, schema="dashboard")


def downgrade() -> None:
    for column in reversed(DASHBOARD):
        op.drop_column("complaints", column.name, schema="dashboard")
    for column in reversed(INTAKE):
        op.drop_column("tracking", column.name, schema="intake")
