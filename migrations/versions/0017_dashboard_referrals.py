"""Referrals followed until the receiving office answers (issue #15 item 5): the read models' columns.

A referral (``workflow.ComplaintReferred`` with ``follow_up_by``) no longer closes the complaint: it stays open
as ``referred`` (dilimpahkan) until staff record the office's answer (``ReferralAnswered``) or the follow-up
time passes (``ReferralLapsed``). The read models keep where each referral stands:

* ``dashboard.complaints`` (the Buku Rekap and the figures): ``referral_state``, the follow-up time, the
  surat pelimpahan's number, the answer (its text, date and reference) and when the referral ended; the index
  ``complaints_referred`` now covers every referral (``referred_to IS NOT NULL``: a followed one has no outcome
  yet), not only the closed ones;
* ``dashboard.service_requests`` (Open311): ``referral_state``, ``follow_up_by``, ``referral_answered_on``;
* ``intake.tracking`` (the public tracking page): ``referral_state``, ``follow_up_by``, the answer and its date.

services/dashboard/adapters/tables.py and services/intake/adapters/tables.py hold the same definitions (a test
checks the dashboard's agree). Every referral recorded before this revision closed the complaint at once: those
rows are marked ``unfollowed`` here, as their projections mark them when they replay such an event. Going down
drops the columns and leaves the rows of followed referrals (status ``referred``) as they are: the release
before this one does not know them, so rebuild its projections after a downgrade.

Revision ID: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

COMPLAINTS = (
    ("referral_state", sa.Text),
    ("referral_follow_up_by", TS),
    ("referral_letter_number", sa.Text),
    ("referral_answer", sa.Text),
    ("referral_answered_on", sa.Date),
    ("referral_reference", sa.Text),
    ("referral_ended_at", TS),
)
SERVICE_REQUESTS = (("referral_state", sa.Text), ("follow_up_by", TS), ("referral_answered_on", sa.Date))
TRACKING = (
    ("referral_state", sa.Text),
    ("follow_up_by", TS),
    ("referral_answer", sa.Text),
    ("referral_answered_on", sa.Date),
)


def upgrade() -> None:
    for name, type_ in COMPLAINTS:
        op.add_column("complaints", sa.Column(name, type_), schema="dashboard")
    for name, type_ in SERVICE_REQUESTS:
        op.add_column("service_requests", sa.Column(name, type_), schema="dashboard")
    for name, type_ in TRACKING:
        op.add_column("tracking", sa.Column(name, type_), schema="intake")
    op.execute("UPDATE dashboard.complaints SET referral_state = 'unfollowed' WHERE referred_to IS NOT NULL")
    op.execute("UPDATE dashboard.service_requests SET referral_state = 'unfollowed' WHERE outcome = 'referred'")
    op.execute("UPDATE intake.tracking SET referral_state = 'unfollowed' WHERE outcome = 'referred'")
    op.drop_index("complaints_referred", table_name="complaints", schema="dashboard")
    op.create_index(
        "complaints_referred",
        "complaints",
        ["kecamatan", "received_date"],
        schema="dashboard",
        postgresql_where=sa.text("referred_to IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("complaints_referred", table_name="complaints", schema="dashboard")
    op.create_index(
        "complaints_referred",
        "complaints",
        ["kecamatan", "received_date"],
        schema="dashboard",
        postgresql_where=sa.text("outcome = 'referred'"),
    )
    for name, _ in TRACKING:
        op.drop_column("tracking", name, schema="intake")
    for name, _ in SERVICE_REQUESTS:
        op.drop_column("service_requests", name, schema="dashboard")
    for name, _ in COMPLAINTS:
        op.drop_column("complaints", name, schema="dashboard")
