"""Signing through the national e-signature service (BSrE; issue #16, docs/adr/0016):

- ``tenancy.users.tte_nik``: the NIK under which an official's personal signing certificate is registered with
  BSrE (16 digits; the service identifies a signer by it). Personal data, needed for the signature only: the staff
  directory gains it as its last column (a contract: columns are added, never renamed or dropped), the
  organisation's change log records only that it was set (its last four digits), never the number.
- ``letters.esigned``: a response letter the Camat signed through BSrE at step 10, before the workflow recorded
  the signature: the stored PDF (its SHA-256 and size in the document store), keyed by the id the workflow's
  ``LetterSigned`` event will have. The letters worker turns it into the letter's document when that event
  arrives; one whose event never came (the workflow's transaction failed after BSrE signed) stays here unused,
  and its number is given to the next letter, as it was never recorded.

Revision ID: 0019
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
DIRECTORY_COLUMNS = (
    "username, full_name, role, kecamatan, kabupaten, unit, nip, active, tokens_valid_after, "
    "email, phone, notify_channel, notify_new_work, pangkat, golongan"
)
COMMENT = (
    "COMMENT ON VIEW tenancy.staff_directory IS "
    "'Contract of the accounts service (shared/contracts/accounts.py): read-only for other services; "
    "columns are added, never renamed or dropped'"
)


def upgrade() -> None:
    op.add_column("users", sa.Column("tte_nik", sa.Text, nullable=True), schema="tenancy")
    op.create_check_constraint("users_tte_nik_format", "users", "tte_nik ~ '^[0-9]{16}$'", schema="tenancy")
    op.execute(
        f"CREATE OR REPLACE VIEW tenancy.staff_directory AS SELECT {DIRECTORY_COLUMNS}, tte_nik FROM tenancy.users"
    )
    op.execute(COMMENT)
    op.create_table(
        "esigned",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("letter_version", sa.Integer, nullable=False),
        sa.Column("letter_number", sa.Text, nullable=False),
        sa.Column("signer", sa.Text, nullable=False),  # the username that typed the passphrase
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
        schema="letters",
    )
    op.create_index("esigned_complaint", "esigned", ["complaint_id"], schema="letters")


def downgrade() -> None:
    op.drop_index("esigned_complaint", "esigned", schema="letters")
    op.drop_table("esigned", schema="letters")
    op.execute("DROP VIEW tenancy.staff_directory")  # CREATE OR REPLACE cannot drop columns
    op.execute(f"CREATE VIEW tenancy.staff_directory AS SELECT {DIRECTORY_COLUMNS} FROM tenancy.users")
    op.execute(COMMENT)
    op.drop_constraint("users_tte_nik_format", "users", schema="tenancy")
    op.drop_column("users", "tte_nik", schema="tenancy")
