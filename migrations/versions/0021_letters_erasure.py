"""Letters' documents of a complainant whose personal data was erased (issue #17, docs/adr/0017):

- ``letters.documents.erased_at`` and ``letters.esigned.erased_at``: when the letters worker erased the complaint's
  documents on ``workflow.PersonalDataErased``. The row stays (the signed letters' number, date and SHA-256 remain on
  record, so that a copy someone holds still verifies as issued), its stored PDF is deleted from the document store
  (unless a row of another complaint holds the same bytes) and its ``perihal`` (staff's free text, which may name
  the complainant) is set to NULL.
- ``documents_sha256``: the rows holding given bytes, asked on every erasure (is a PDF still needed by another
  complaint?) and by the check of an uploaded letter.

Revision ID: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("documents", sa.Column("erased_at", TS), schema="letters")
    op.add_column("esigned", sa.Column("erased_at", TS), schema="letters")
    op.create_index("documents_sha256", "documents", ["sha256"], schema="letters")
    op.create_index("esigned_sha256", "esigned", ["sha256"], schema="letters")


def downgrade() -> None:
    op.drop_index("esigned_sha256", "esigned", schema="letters")
    op.drop_index("documents_sha256", "documents", schema="letters")
    op.drop_column("esigned", "erased_at", schema="letters")
    op.drop_column("documents", "erased_at", schema="letters")
