"""Who looked at a complainant's personal data (issue #17 item 4, docs/adr/0017 "Access log"): ``privacy.access_log``.

One row per request that served a complainant's personal data to someone (a kecamatan's staff member reading the
complaint, its Buku Rekap or overdue list, a document or a scan; the complainant downloading their receipt or letter
by tracking code): when, who (username and role; no user for a tracking code), which service, what (a stable code,
``complaint.detail``, ``register.xlsx``, ``document.receipt``, ``scan.download`` ...), the complaints it showed (an
export of many is one row holding all their ids: the GIN index ``access_log_complaints`` finds a complaint's rows by
``:id = ANY(complaint_ids)``), the kecamatan, the reason the reader gave (``X-Access-Reason``) and the request's
correlation id.

Append-only in spirit: the services insert, nobody updates or deletes (a reason given is masked of the complainant's
values before it is written, so an erasure has nothing to do here). It holds no personal value of the complainant
(ids, usernames, codes), so it stays after an erasure: the record of who looked is kept.

Revision ID: 0024
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),  # bigserial
        sa.Column("at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("user_id", sa.Text),  # NULL: the holder of a tracking code
        sa.Column("role", sa.Text, nullable=False),  # a user's role, or "public"
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("complaint_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("correlation_id", sa.Text),
        sa.CheckConstraint("cardinality(complaint_ids) > 0", name="access_log_names_a_complaint"),
        sa.CheckConstraint("(user_id IS NULL) = (role = 'public')", name="access_log_user_or_public"),
        schema="privacy",
    )
    op.create_index("access_log_complaints", "access_log", ["complaint_ids"], schema="privacy", postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("access_log", schema="privacy")
