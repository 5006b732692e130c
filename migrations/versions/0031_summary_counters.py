"""The summary's counters (issue #20 item 4): ``dashboard.complaint_counts`` and ``dashboard.feedback_counts``, the
complaints received in a month of a kecamatan added up by what the dashboard's summary counts them by, kept by the
complaints projection in the transaction that changes ``dashboard.complaints`` (services/dashboard/adapters/
counters.py); and ``complaints_open``, the open complaints that can be late (the summary's ``open_late``, which
depends on the clock). Filled here from ``dashboard.complaints``: the projection's checkpoint row is locked while
they are counted, so no round moves the complaints in between. services/dashboard/adapters/tables.py mirrors it.

Revision ID: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0029"  # 0030 is being written in parallel: the lead rechains this one after it
branch_labels = None
depends_on = None

UNSET = "belum-ditetapkan"  # shared.contracts.categories.UNSET_CODE, as it was when this was written
FEEDBACK = ("responded", "answered", "satisfied", "rating_sum", "reopened", "objections")


def upgrade() -> None:
    op.create_table(
        "complaint_counts",
        sa.Column("kecamatan", sa.Text, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("outcome", sa.Text, primary_key=True),
        sa.Column("category", sa.Text, primary_key=True),
        sa.Column("closed_within", sa.Boolean, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        schema="dashboard",
    )
    op.create_table(
        "feedback_counts",
        sa.Column("kecamatan", sa.Text, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("disposition_unit", sa.Text, primary_key=True),
        sa.Column("feedback_unit", sa.Text, primary_key=True),
        sa.Column("reopened_unit", sa.Text, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in FEEDBACK),
        schema="dashboard",
    )
    op.create_index(
        "complaints_open",
        "complaints",
        ["kecamatan", "received_date"],
        schema="dashboard",
        postgresql_include=["deadline_at"],
        postgresql_where=sa.text("status NOT IN ('closed', 'referred', 'objection')"),
    )
    # the live projection's round claims this row first: none runs while the counters are filled
    op.execute("SELECT position FROM dashboard.checkpoints WHERE name = 'dashboard.complaints' FOR UPDATE")
    month = "date_trunc('month', received_date)::date"
    op.execute(
        "INSERT INTO dashboard.complaint_counts (kecamatan, month, channel, status, outcome, category, closed_within, n) "
        f"SELECT kecamatan, {month}, channel, status, coalesce(outcome, ''), coalesce(category, '{UNSET}'), "
        "coalesce(status = 'closed' AND within_sla, false), count(*) FROM dashboard.complaints "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
    op.execute(
        "INSERT INTO dashboard.feedback_counts (kecamatan, month, disposition_unit, feedback_unit, reopened_unit, n, "
        f"{', '.join(FEEDBACK)}) "
        f"SELECT kecamatan, {month}, coalesce(disposition_unit, ''), coalesce(feedback_unit, ''), "
        "coalesce(reopened_unit, ''), count(*), count(*) FILTER (WHERE sent_at IS NOT NULL), "
        "count(*) FILTER (WHERE feedback_rating IS NOT NULL), count(*) FILTER (WHERE feedback_satisfied), "
        "coalesce(sum(feedback_rating), 0), count(*) FILTER (WHERE reopened > 0), "
        "count(*) FILTER (WHERE objection_at IS NOT NULL) FROM dashboard.complaints GROUP BY 1, 2, 3, 4, 5"
    )


def downgrade() -> None:
    op.drop_index("complaints_open", table_name="complaints", schema="dashboard")
    op.drop_table("feedback_counts", schema="dashboard")
    op.drop_table("complaint_counts", schema="dashboard")
