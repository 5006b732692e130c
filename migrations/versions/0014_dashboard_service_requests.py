"""Dashboard: ``dashboard.service_requests``, what Open311's reads show of each complaint, fed from the event
store by its own projection (``dashboard.service_requests``; services/dashboard/adapters/projections.py), so that the
dashboard reads no other service's tables (it joined ``intake.submissions`` with ``workflow.complaints``).
services/dashboard/adapters/tables.py holds the same definition (a test checks the two agree).

The table starts empty with no checkpoint: the projection fills it from the first event on its first round
(``pengaduan projections run``), or at once with ``pengaduan projections rebuild service_requests``.

Revision ID: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_requests",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tracking_code", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("service_code", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("current_step", sa.SmallInteger),
        sa.Column("deadline_at", TS),
        sa.Column("referred_to", sa.Text),
        sa.Column("sop_version", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema="dashboard",
    )
    op.create_index(
        "service_requests_tracking_code", "service_requests", ["tracking_code"], unique=True, schema="dashboard"
    )
    op.create_index(
        "service_requests_received", "service_requests", ["received_at", "complaint_id"], schema="dashboard"
    )
    op.create_index(
        "service_requests_kecamatan_received", "service_requests", ["kecamatan", "received_at"], schema="dashboard"
    )


def downgrade() -> None:
    op.drop_table("service_requests", schema="dashboard")
    op.execute("DELETE FROM dashboard.checkpoints WHERE name LIKE 'dashboard.service_requests%'")
