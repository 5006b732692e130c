"""Personal data under per-complaint keys (issue #17, docs/adr/0017): ``privacy.data_keys`` (each complaint's data
key, wrapped by the key-encryption keys of the settings; erased: the wrapped key gone, the row saying when, by whom
and why), and the complainant's data in the ``ComplaintReceived`` events already stored sealed under them.

The event store refuses UPDATE (its immutability triggers); this migration, and only it, lifts that for its own
transaction to seal what was stored in clear before, in place: the same events, the same positions, the payload's
``complainant`` replaced by its sealed form. It reads the key-encryption keys as every process does
(PENGADUAN_PRIVACY_KEYS / _FILE, else derived from PENGADUAN_SECRET_KEY outside production). Going down opens them
again (while the keys exist) and drops the table: erased complaints stay erased (their values are gone).

Revision ID: 0020
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TYPE = "workflow.ComplaintReceived"
FIELD = "complainant"
BATCH = 500


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS privacy")
    op.create_table(
        "data_keys",
        sa.Column("subject_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kek_id", sa.Text),
        sa.Column("wrapped", sa.LargeBinary),
        sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("rotated_at", TS),
        sa.Column("erased_at", TS),
        sa.Column("erased_by", sa.Text),
        sa.Column("erasure_reason", sa.Text),
        sa.CheckConstraint("(wrapped IS NULL) = (kek_id IS NULL)", name="data_keys_wrapped_with_its_kek"),
        sa.CheckConstraint("erased_at IS NULL OR wrapped IS NULL", name="data_keys_erased_means_gone"),
        schema="privacy",
    )
    _rewrite(seal=True)


def downgrade() -> None:
    _rewrite(seal=False)
    op.drop_table("data_keys", schema="privacy")
    op.execute("DROP SCHEMA IF EXISTS privacy")


def _rewrite(*, seal: bool) -> None:
    """Seal (or open) the complainant of every ComplaintReceived stored in clear (or sealed), in batches."""
    import json
    import uuid

    from shared import privacy

    conn = op.get_bind()
    keys = privacy.default_data_keys()
    op.execute("ALTER TABLE workflow.events DISABLE TRIGGER events_no_update_delete")
    after = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT position, stream_id, payload -> :field AS value FROM workflow.events "
                "WHERE type = :type AND position > :after ORDER BY position LIMIT :batch"
            ),
            {"field": FIELD, "type": TYPE, "after": after, "batch": BATCH},
        ).all()
        if not rows:
            break
        after = rows[-1].position
        for position, stream_id, value in rows:
            if value is None or privacy.is_sealed(value) != (not seal):
                continue
            subject = uuid.UUID(stream_id.removeprefix("complaint-"))
            place = f"{TYPE}.{FIELD}"
            if seal:
                key = keys.for_writing(conn, subject)
                new = (
                    privacy.seal(value, key, subject, place) if key is not None else {"name": "(data pribadi dihapus)"}
                )
            else:
                key = keys.for_reading(conn, [subject]).get(subject)
                new = (
                    privacy.unseal(value, key, subject, place)
                    if key is not None
                    else {"name": "(data pribadi dihapus)"}
                )
            conn.execute(
                sa.text(
                    "UPDATE workflow.events SET payload = jsonb_set(payload, :path, CAST(:value AS jsonb)) "
                    "WHERE position = :position"
                ),
                {"path": [FIELD], "value": json.dumps(new), "position": position},
            )
    op.execute("ALTER TABLE workflow.events ENABLE TRIGGER events_no_update_delete")
