"""Possible duplicates (issue #18 item 3; docs/adr/0021, docs/adr/0017 decision 13).

* ``pg_trgm`` (a contrib extension, trusted since PostgreSQL 13: a database owner without superuser may create it;
  the embedded server and the official images ship it).
* ``privacy.lookups``: per complaint the keyed hash (``shared.privacy.LookupHashes``) of its complainant's
  normalised NIK, phone and e-mail, its kecamatan beside it; what a search on personal data matches by, so that no
  table is searched by a value in clear. Deleted with the complaint's erasure.
* ``workflow.duplicate_texts``: per complaint the text compared (``shared.privacy.comparable_text``: subject and
  description, NIK-, phone- and e-mail-shaped strings taken out), ``open`` while the complaint is (the trigram
  index holds only those). Deleted with the erasure.

The complaints open now are filled in (their complainant read from their events, opened under the key-encryption
keys the settings name, as migration 0025 reads them); closed ones are never candidates and get none. Going down
drops both tables (the extension stays: another database object may use it).

Revision ID: 0028
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "lookups",
        sa.Column("subject_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("hash", sa.Text, primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        schema="privacy",
    )
    op.create_index("lookups_search", "lookups", ["kecamatan", "kind", "hash"], schema="privacy")
    op.create_table(
        "duplicate_texts",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False, server_default="true"),
        schema="workflow",
    )
    # the operator class found wherever the extension went (its schema on the search path, public by default)
    op.execute("CREATE INDEX duplicate_texts_trgm ON workflow.duplicate_texts USING gin (text gin_trgm_ops) WHERE open")
    _fill(op.get_bind())


def downgrade() -> None:
    op.drop_table("duplicate_texts", schema="workflow")
    op.drop_index("lookups_search", table_name="lookups", schema="privacy")
    op.drop_table("lookups", schema="privacy")


def _fill(conn: sa.engine.Connection) -> None:
    from shared import privacy
    from shared.contracts.workflow import current_complainant
    from shared.eventstore.postgres import PostgresEventStore

    open_now = conn.execute(
        sa.text("SELECT complaint_id, kecamatan FROM workflow.complaints WHERE status <> 'closed'")
    ).all()
    if not open_now:
        return
    keys = privacy.default_data_keys()
    hashes = privacy.lookup_hashes(keys.keks)
    store = PostgresEventStore(conn.engine, keys)
    for complaint_id, kecamatan in open_now:
        subject = uuid.UUID(str(complaint_id))
        events = [e.decode() for e in store.read_stream(f"complaint-{subject}", conn=conn)]
        if not events:
            continue
        received = events[0]
        person = current_complainant(events) or received.complainant
        privacy.record_lookups(
            conn, hashes, subject, kecamatan, {"nik": person.nik, "phone": person.phone, "email": person.email}
        )
        conn.execute(
            sa.text(
                "INSERT INTO workflow.duplicate_texts (complaint_id, kecamatan, text) VALUES (:id, :k, :t) "
                "ON CONFLICT DO NOTHING"
            ),
            {"id": subject, "k": kecamatan, "t": privacy.comparable_text(received.subject, received.description)},
        )
