"""The summary's counters (issue #20 item 4): ``dashboard.complaint_counts`` and ``dashboard.feedback_counts``, the
complaints received in a month, and in a year, of a kecamatan added up by what the dashboard's summary counts, kept by the
complaints projection in the transaction that changes ``dashboard.complaints`` (services/dashboard/adapters/
counters.py); and ``complaints_open``, the open complaints that can be late (the summary's ``open_late``, which
depends on the clock). Filled here from ``dashboard.complaints``: the projection's checkpoint row is locked while
they are counted, so no round moves the complaints in between. services/dashboard/adapters/tables.py mirrors it.

Revision ID: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

UNSET = "belum-ditetapkan"  # shared.contracts.categories.UNSET_CODE, as it was when this was written
FEEDBACK = ("responded", "answered", "satisfied", "rating_sum", "reopened", "objections")


def upgrade() -> None:
    op.create_table(
        "complaint_counts",
        sa.Column("kecamatan", sa.Text, primary_key=True),
        sa.Column("span", sa.Text, primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
        sa.Column("dimension", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        schema="dashboard",
    )
    op.create_table(
        "feedback_counts",
        sa.Column("kecamatan", sa.Text, primary_key=True),
        sa.Column("span", sa.Text, primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
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
    # as services/dashboard/adapters/counters.py's recount_sql (written out: a migration keeps its own text)
    spans = "(VALUES ('month'), ('year')) AS s(span)"
    start = "date_trunc(s.span, x.received_date)::date"
    op.execute(
        "INSERT INTO dashboard.complaint_counts (kecamatan, span, start, dimension, value, n) "
        f"SELECT x.kecamatan, s.span, {start}, d.dimension, d.value, count(*) "
        f"FROM dashboard.complaints x CROSS JOIN {spans} CROSS JOIN LATERAL "
        "(VALUES ('channel', x.channel), ('status', x.status), "
        f"('category', coalesce(x.category, '{UNSET}')), ('outcome', x.outcome), "
        "('closed_within', CASE WHEN x.status = 'closed' AND x.within_sla THEN '' END)) AS d(dimension, value) "
        "WHERE d.value IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
    )
    op.execute(
        "INSERT INTO dashboard.feedback_counts (kecamatan, span, start, disposition_unit, feedback_unit, "
        f"reopened_unit, n, {', '.join(FEEDBACK)}) "
        f"SELECT x.kecamatan, s.span, {start}, coalesce(x.disposition_unit, ''), coalesce(x.feedback_unit, ''), "
        "coalesce(x.reopened_unit, ''), count(*), count(*) FILTER (WHERE x.sent_at IS NOT NULL), "
        "count(*) FILTER (WHERE x.feedback_rating IS NOT NULL), count(*) FILTER (WHERE x.feedback_satisfied), "
        "coalesce(sum(x.feedback_rating), 0), count(*) FILTER (WHERE x.reopened > 0), "
        "count(*) FILTER (WHERE x.objection_at IS NOT NULL) "
        f"FROM dashboard.complaints x CROSS JOIN {spans} GROUP BY 1, 2, 3, 4, 5, 6"
    )


def downgrade() -> None:
    op.drop_index("complaints_open", table_name="complaints", schema="dashboard")
    op.drop_table("feedback_counts", schema="dashboard")
    op.drop_table("complaint_counts", schema="dashboard")
