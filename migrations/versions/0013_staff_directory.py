"""The staff directory: what other services may read of accounts' users (``shared/contracts/accounts.py``).

A view over ``tenancy.users`` without the password hash. The token check of every API, notify (whom to alert,
how) and letters (the Camat's name and NIP) read it instead of the table, so the table stays accounts' own.

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW tenancy.staff_directory AS
        SELECT username, full_name, role, kecamatan, kabupaten, unit, nip, active, tokens_valid_after,
               email, phone, notify_channel, notify_new_work
        FROM tenancy.users
        """
    )
    op.execute(
        "COMMENT ON VIEW tenancy.staff_directory IS "
        "'Contract of the accounts service (shared/contracts/accounts.py): read-only for other services; "
        "columns are added, never renamed or dropped'"
    )


def downgrade() -> None:
    op.execute("DROP VIEW tenancy.staff_directory")
