"""The data-protection officer and the record of data-subject requests (issue #17, docs/adr/0017).

* ``pdp``, a role of its own: the kabupaten's *Pejabat Pelindungan Data Pribadi* (UU 27/2022 PDP, art. 53), bound
  to a kabupaten like ``kabupaten`` users: decides erasure, access and correction requests and reads who looked at
  a complainant's data.
* ``privacy.requests``: every request about a complainant's personal data and its outcome (erasure, access,
  correction, and the retention job's erasures): who asked, when, why, what was decided, by whom. Kept after the
  erasure it records (it holds no personal value: the reason is masked of the complainant's values first).
* ``workflow.complaints.closed_at`` and ``personal_data_erased``: the retention job finds the closed complaints whose
  personal data's retention period has passed. Filled for the rows there are: ``closed_at`` from the last closing
  event of each closed complaint, ``personal_data_erased`` from ``privacy.data_keys``.
* ``dashboard.complaints.complainant_confidential``: a complainant who asked that their identity be kept confidential
  (pelapor rahasia); false for every complaint there is (none could ask before).

Revision ID: 0023
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OLD_ROLES = ("staf", "kasi", "sekcam", "camat", "kabupaten", "admin")
ROLES = (*OLD_ROLES, "pdp")
CLOSING = (  # services/workflow/domain/model.py's CLOSING, as stored
    "workflow.IdentityRejected",
    "workflow.ClosedIncomplete",
    "workflow.ComplaintReferred",
    "workflow.ReferralAnswered",
    "workflow.ReferralLapsed",
    "workflow.ResponseSent",
    "workflow.ComplaintWithdrawn",
    "workflow.MarkedDuplicate",
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.drop_constraint("users_role_known", "users", schema="tenancy")
    op.create_check_constraint("users_role_known", "users", f"role IN ({_in(ROLES)})", schema="tenancy")
    op.create_table(
        "requests",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),  # a username, or "retensi" for the retention job
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint(
            "kind IN ('erasure', 'retention', 'access', 'correction')", name="privacy_requests_kind_known"
        ),
        sa.CheckConstraint("outcome IN ('done', 'refused')", name="privacy_requests_outcome_known"),
        schema="privacy",
    )
    op.create_index("privacy_requests_complaint", "requests", ["complaint_id", "received_at"], schema="privacy")
    op.create_index("privacy_requests_received", "requests", ["received_at"], schema="privacy")
    op.add_column("complaints", sa.Column("closed_at", TS), schema="workflow")
    op.add_column(
        "complaints",
        sa.Column("personal_data_erased", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="workflow",
    )
    # pelapor rahasia: the inbox withholds the tracking code (it opens the receipt, which names them) from those who
    # may not see them; none could ask before
    op.add_column(
        "complaints",
        sa.Column("confidential", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="workflow",
    )
    op.execute(
        "UPDATE workflow.complaints c SET closed_at = ("
        "SELECT max(e.occurred_at) FROM workflow.events e "
        "WHERE e.stream_id = 'complaint-' || c.complaint_id::text "
        f"AND e.type IN ({_in(CLOSING)})) WHERE c.status = 'closed'"
    )
    op.execute(
        "UPDATE workflow.complaints c SET personal_data_erased = true FROM privacy.data_keys k "
        "WHERE k.subject_id = c.complaint_id AND k.erased_at IS NOT NULL"
    )
    # pelapor rahasia (issue #17 item 5): the dashboard's row says whether the complainant asked for it
    op.add_column(
        "complaints",
        sa.Column("complainant_confidential", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="dashboard",
    )
    op.create_index(
        "complaints_retention",
        "complaints",
        ["kecamatan", "closed_at"],
        schema="workflow",
        postgresql_where=sa.text("status = 'closed' AND NOT personal_data_erased"),
    )


def downgrade() -> None:
    op.drop_column("complaints", "complainant_confidential", schema="dashboard")
    op.drop_index("complaints_retention", table_name="complaints", schema="workflow")
    op.drop_column("complaints", "confidential", schema="workflow")
    op.drop_column("complaints", "personal_data_erased", schema="workflow")
    op.drop_column("complaints", "closed_at", schema="workflow")
    op.drop_table("requests", schema="privacy")
    op.execute(f"DELETE FROM tenancy.users WHERE role NOT IN ({_in(OLD_ROLES)})")
    op.drop_constraint("users_role_known", "users", schema="tenancy")
    op.create_check_constraint("users_role_known", "users", f"role IN ({_in(OLD_ROLES)})", schema="tenancy")
