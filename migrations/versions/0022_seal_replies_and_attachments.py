"""More of a complainant's data sealed in the event store (issue #17, docs/adr/0017): the attachments of
``ComplaintReceived`` (their file names are the complainant's words) and the text, sender and attachments of
``ComplainantReplied`` (what they wrote back, often their NIK or name), as migration 0020 sealed the complainant:
in place, under the complaint's data key, the immutability trigger lifted for this transaction only. Values of a
complaint whose key was erased become the erased value. Going down opens them again (while the keys exist).

Revision ID: 0022
"""

import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ERASED = "(data pribadi dihapus)"
FIELDS = {
    "workflow.ComplaintReceived": {"attachments": []},
    "workflow.ComplainantReplied": {"text": ERASED, "sender": "-", "attachments": []},
}
BATCH = 500


def upgrade() -> None:
    _rewrite(seal=True)


def downgrade() -> None:
    _rewrite(seal=False)


def _rewrite(*, seal: bool) -> None:
    from shared import privacy

    conn = op.get_bind()
    keys = privacy.default_data_keys()
    op.execute("ALTER TABLE workflow.events DISABLE TRIGGER events_no_update_delete")
    for event_type, fields in FIELDS.items():
        after = 0
        while True:
            rows = conn.execute(
                sa.text(
                    "SELECT position, stream_id, payload FROM workflow.events "
                    "WHERE type = :type AND position > :after ORDER BY position LIMIT :batch"
                ),
                {"type": event_type, "after": after, "batch": BATCH},
            ).all()
            if not rows:
                break
            after = rows[-1].position
            for position, stream_id, payload in rows:
                subject = uuid.UUID(stream_id.removeprefix("complaint-"))
                changed = dict(payload)
                for name, erased in fields.items():
                    value, place = payload.get(name), f"{event_type}.{name}"
                    if value is None or privacy.is_sealed(value) != (not seal):
                        continue
                    if seal:
                        key = keys.for_writing(conn, subject)
                        changed[name] = privacy.seal(value, key, subject, place) if key is not None else erased
                    else:
                        key = keys.for_reading(conn, [subject]).get(subject)
                        changed[name] = privacy.unseal(value, key, subject, place) if key is not None else erased
                if changed != payload:
                    conn.execute(
                        sa.text("UPDATE workflow.events SET payload = CAST(:payload AS jsonb) WHERE position = :p"),
                        {"payload": json.dumps(changed), "p": position},
                    )
    op.execute("ALTER TABLE workflow.events ENABLE TRIGGER events_no_update_delete")
