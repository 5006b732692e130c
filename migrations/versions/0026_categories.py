"""Complaint categories (issue #18 item 2, shared/contracts/categories.py).

* ``dashboard.complaints.category``: the complaint's category (a code of its kabupaten's list), picked by the
  complainant (``ComplaintReceived.category``) or set at step 3 or 4 (``workflow.CategorySet``); NULL until then. The
  complaints there are have none (none could be picked before), so the column starts NULL and a rebuild agrees.
  The last column, as the read model's rebuild copies columns in order.

Revision ID: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("category", sa.Text), schema="dashboard")


def downgrade() -> None:
    op.drop_column("complaints", "category", schema="dashboard")
