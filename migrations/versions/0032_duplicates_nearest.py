"""Possible duplicates by their text found nearest first (issue #20; docs/adr/0021 decision 2).

The trigram index of ``workflow.duplicate_texts`` becomes a GiST index on ``(kecamatan, text)``: the search asks
for the kecamatan's ``MAX_SHOWN`` open texts nearest to the complaint's (``<->``, one minus pg_trgm's similarity),
which a GiST index returns in that order; with the GIN index PostgreSQL computed the similarity of every open text
of the kecamatan that shared trigrams with it, about 0.02 ms each (41-114 ms a view where a kecamatan had 6,000
open complaints on a dozen matters; about 2 ms now). ``btree_gist`` (a contrib extension, trusted since
PostgreSQL 13, shipped with pg_trgm) lets the kecamatan be the index's first column, so another kecamatan's texts are
never read. The signature is 256 bytes (pg_trgm's default is 12): 2.5 against 4.6 ms a search where many texts
are alike. The index holds the open complaints' texts only (hundreds to a few thousand a kecamatan): it is built
in the migration's transaction, which holds new complaints' records for that second.

Going down puts the GIN index back (the extensions stay: another database object may use them).

Revision ID: 0032
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("DROP INDEX workflow.duplicate_texts_trgm")
    # the operator classes found wherever the extensions went (their schema on the search path, public by default)
    op.execute(
        "CREATE INDEX duplicate_texts_nearest ON workflow.duplicate_texts "
        "USING gist (kecamatan, text gist_trgm_ops(siglen=256)) WHERE open"
    )


def downgrade() -> None:
    op.execute("DROP INDEX workflow.duplicate_texts_nearest")
    op.execute("CREATE INDEX duplicate_texts_trgm ON workflow.duplicate_texts USING gin (text gin_trgm_ops) WHERE open")
