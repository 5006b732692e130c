"""Providers' message ids by keyed hash (issue #17, docs/adr/0017 decision 7): a WhatsApp message id is ``wamid.`` and
the base64 of a record holding the other party's phone number, so whoever keeps the id keeps the number, after an
erasure too. From here on every table matches a provider's id by its HMAC-SHA256 under a key derived from the
key-encryption keys (``shared.privacy.ProviderIdHashes``), and keeps the id itself only where it is the complainant's
data under their key or until their erasure:

* ``workflow.events``: the ``Notification*`` events' ``provider_message_id`` sealed under the complaint's data key
  (the erased value, null, where the key was erased) and its hash added in clear (``provider_message_hash``: what
  intake's erasure ties the delivery receipts by); a ``ResponseSent`` receipt written from a provider's confirmation
  names the message by ``<provider> ref <16 hex digits of the hash>`` instead of the id (and so does the dashboard's
  ``complaints.receipt``). As migrations 0020 and 0022 did, the immutability trigger is lifted for this
  transaction only; the events keep their ids, positions and everything else.
* ``notify.deliveries``: ``provider_message_hash`` added and indexed with the provider (what delivery receipts find
  a row by, instead of the id); the id cleared on rows already erased.
* ``intake.inbound_messages`` and ``intake.channel_statuses``: the id replaced by its hash (the unique keys with
  it); a status's ``raw`` loses the id and the recipient's number, ``recipient_id`` is cleared (nothing reads them).
* what waits to be handed on or replayed: intake's outbox (a delivery status to notify names the id by its hashes),
  notify's hand-off ledger and the dead letters of notify and the workflow (the hash added; the id dropped where
  the complainant's data was erased, and from a delivery status's task).

Processes of the previous release must be stopped before it runs (as for 0020 and 0022): a workflow worker of the
previous release would append notification events with the id in clear and no hash. Going down opens the sealed
ids again (while the keys exist) and drops the hashes; the tables' ids do not come back (they are not kept
anywhere): their columns return holding the hashes, and the receipts keep their references.

Revision ID: 0025
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from shared.privacy import DataKeys, ProviderIdHashes

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BATCH = 500
NOTIFICATIONS = (
    "workflow.NotificationSent",
    "workflow.NotificationDelivered",
    "workflow.NotificationFailed",
    "workflow.NotificationUncertain",
)
FIELD = "provider_message_id"
ERASED_BODY = "(isi pesan dihapus bersama data pribadi pengadu)"  # services/notify/domain/erasure.py
STATUS_TASK = "notify.record_status"
REFERENCE_DIGITS = 16  # shared.contracts.workflow.provider_reference


def upgrade() -> None:
    from shared import privacy

    conn = op.get_bind()
    hashes = privacy.default_provider_id_hashes()
    keys = privacy.default_data_keys()
    erased = _erased_complaints(conn)
    op.execute("ALTER TABLE workflow.events DISABLE TRIGGER events_no_update_delete")
    _receipts(conn, hashes)  # first: they are found by the ids the notification events still hold in clear
    _notification_events(conn, hashes, keys, seal=True)
    op.execute("ALTER TABLE workflow.events ENABLE TRIGGER events_no_update_delete")

    op.add_column("deliveries", sa.Column("provider_message_hash", sa.Text), schema="notify")
    _fill(conn, "notify.deliveries", "provider_message_id", "provider_message_hash", hashes)
    conn.execute(
        sa.text(
            "UPDATE notify.deliveries SET provider_message_id = NULL WHERE provider_message_id IS NOT NULL AND "
            "(body = :erased_body OR complaint_id IN "
            "(SELECT subject_id FROM privacy.data_keys WHERE erased_at IS NOT NULL))"
        ),
        {"erased_body": ERASED_BODY},
    )
    op.drop_index("deliveries_provider_id", table_name="deliveries", schema="notify")
    op.create_index("deliveries_provider_hash", "deliveries", ["provider", "provider_message_hash"], schema="notify")

    for table, old_unique, new_unique, key in (
        ("inbound_messages", "inbound_messages_provider_id", "inbound_messages_provider_hash", ["channel"]),
        ("channel_statuses", "channel_statuses_message_status", "channel_statuses_message_status", ["status"]),
    ):
        op.add_column(table, sa.Column("provider_message_hash", sa.Text), schema="intake")
        _fill(conn, f"intake.{table}", "provider_message_id", "provider_message_hash", hashes)
        op.alter_column(table, "provider_message_hash", nullable=False, schema="intake")
        op.drop_constraint(old_unique, table, schema="intake")
        op.drop_column(table, "provider_message_id", schema="intake")
        op.create_unique_constraint(new_unique, table, _unique(table, key, "provider_message_hash"), schema="intake")
    conn.execute(
        sa.text(
            "UPDATE intake.channel_statuses SET recipient_id = NULL, raw = raw - 'id' - 'recipient_id' "
            "WHERE recipient_id IS NOT NULL OR raw ?| array['id', 'recipient_id']"
        )
    )

    _handed_on(conn, hashes, erased)


def downgrade() -> None:
    from shared import privacy

    conn = op.get_bind()
    op.execute("ALTER TABLE workflow.events DISABLE TRIGGER events_no_update_delete")
    _notification_events(conn, privacy.default_provider_id_hashes(), privacy.default_data_keys(), seal=False)
    op.execute("ALTER TABLE workflow.events ENABLE TRIGGER events_no_update_delete")

    op.drop_index("deliveries_provider_hash", table_name="deliveries", schema="notify")
    op.drop_column("deliveries", "provider_message_hash", schema="notify")
    op.create_index("deliveries_provider_id", "deliveries", ["provider", "provider_message_id"], schema="notify")
    for table, old_unique, new_unique, key in (
        ("inbound_messages", "inbound_messages_provider_hash", "inbound_messages_provider_id", ["channel"]),
        ("channel_statuses", "channel_statuses_message_status", "channel_statuses_message_status", ["status"]),
    ):
        op.add_column(table, sa.Column("provider_message_id", sa.Text), schema="intake")
        conn.execute(sa.text(f"UPDATE intake.{table} SET provider_message_id = provider_message_hash"))
        op.alter_column(table, "provider_message_id", nullable=False, schema="intake")
        op.drop_constraint(old_unique, table, schema="intake")
        op.drop_column(table, "provider_message_hash", schema="intake")
        op.create_unique_constraint(new_unique, table, _unique(table, key, "provider_message_id"), schema="intake")


def _unique(table: str, key: list[str], column: str) -> list[str]:
    """The unique key's columns as migration 0007 ordered them: (channel, id) and (id, status)."""
    return [*key, column] if table == "inbound_messages" else [column, *key]


# -- the events -----------------------------------------------------------------------------------------------------
def _erased_complaints(conn: Connection) -> set[uuid.UUID]:
    return set(conn.execute(sa.text("SELECT subject_id FROM privacy.data_keys WHERE erased_at IS NOT NULL")).scalars())


def _reference(provider: str | None, digest: str) -> str:
    return f"{provider or 'penyedia'} ref {digest[:REFERENCE_DIGITS]}"


def _without_ids(receipt: str, ids: list[tuple[str | None, str]], hashes: ProviderIdHashes) -> str:
    """``receipt`` with each of the stream's provider ids replaced by its reference."""
    for provider, raw in ids:
        reference = _reference(provider, hashes.hash(raw))
        receipt = receipt.replace(f"{provider} {raw}", reference).replace(raw, reference)
    return receipt


def _receipts(conn: Connection, hashes: ProviderIdHashes) -> None:
    """Every ``ResponseSent`` receipt naming a provider's id that its stream's notification events hold in clear:
    in the event and in the dashboard's row of the complaint (as written, or as its erasure left it)."""
    after = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT position, stream_id, payload FROM workflow.events WHERE type = 'workflow.ResponseSent' "
                "AND position > :after AND payload ->> 'receipt' IS NOT NULL ORDER BY position LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        after = rows[-1].position
        for position, stream_id, payload in rows:
            ids = [
                (r.provider, r.raw)
                for r in conn.execute(
                    sa.text(
                        "SELECT DISTINCT payload ->> 'provider' AS provider, payload ->> :field AS raw "
                        "FROM workflow.events WHERE stream_id = :stream AND type = ANY(:types) "
                        "AND jsonb_typeof(payload -> :field) = 'string'"
                    ),
                    {"field": FIELD, "stream": stream_id, "types": list(NOTIFICATIONS)},
                )
                if r.raw
            ]
            receipt = _without_ids(payload["receipt"], ids, hashes)
            if receipt == payload["receipt"]:
                continue
            conn.execute(
                sa.text("UPDATE workflow.events SET payload = CAST(:payload AS jsonb) WHERE position = :p"),
                {"payload": json.dumps({**payload, "receipt": receipt}), "p": position},
            )
            complaint_id = uuid.UUID(stream_id.removeprefix("complaint-"))
            shown = conn.execute(
                sa.text("SELECT receipt FROM dashboard.complaints WHERE complaint_id = :c"), {"c": complaint_id}
            ).scalar()
            if shown and _without_ids(shown, ids, hashes) != shown:
                conn.execute(
                    sa.text("UPDATE dashboard.complaints SET receipt = :r WHERE complaint_id = :c"),
                    {"r": _without_ids(shown, ids, hashes), "c": complaint_id},
                )


def _notification_events(conn: Connection, hashes: ProviderIdHashes, keys: DataKeys, *, seal: bool) -> None:
    """Seal each notification event's provider id under its complaint's data key (the erased value, null, once the
    key is gone) and add its hash; or, going down, open it again and drop the hash."""
    from shared import privacy

    after = 0
    data_keys: dict[uuid.UUID, bytes | None] = {}
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT position, stream_id, type, payload FROM workflow.events WHERE type = ANY(:types) "
                "AND position > :after AND payload ? :field ORDER BY position LIMIT :batch"
            ),
            {"types": list(NOTIFICATIONS), "after": after, "field": FIELD, "batch": BATCH},
        ).all()
        if not rows:
            return
        after = rows[-1].position
        for position, stream_id, event_type, payload in rows:
            value, place = payload.get(FIELD), f"{event_type}.{FIELD}"
            subject = uuid.UUID(stream_id.removeprefix("complaint-"))
            changed = dict(payload)
            if seal and isinstance(value, str) and value:
                if subject not in data_keys:
                    data_keys[subject] = keys.for_writing(conn, subject)
                key = data_keys[subject]
                changed[FIELD] = privacy.seal(value, key, subject, place) if key is not None else None
                changed["provider_message_hash"] = hashes.hash(value)
            elif not seal and (privacy.is_sealed(value) or "provider_message_hash" in payload):
                if privacy.is_sealed(value):
                    key = keys.for_reading(conn, [subject]).get(subject)
                    changed[FIELD] = privacy.unseal(value, key, subject, place) if key is not None else None
                changed.pop("provider_message_hash", None)
            if changed != payload:
                conn.execute(
                    sa.text("UPDATE workflow.events SET payload = CAST(:payload AS jsonb) WHERE position = :p"),
                    {"payload": json.dumps(changed), "p": position},
                )


# -- the tables -----------------------------------------------------------------------------------------------------
def _fill(conn: Connection, table: str, source: str, target: str, hashes: ProviderIdHashes) -> None:
    """``target`` := the keyed hash of ``source`` on every row holding one, in batches."""
    while True:
        rows = conn.execute(
            sa.text(f"SELECT id, {source} FROM {table} WHERE {source} IS NOT NULL AND {target} IS NULL LIMIT :batch"),
            {"batch": BATCH},
        ).all()
        if not rows:
            return
        conn.execute(
            sa.text(f"UPDATE {table} SET {target} = :digest WHERE id = :id"),
            [{"id": row_id, "digest": hashes.hash(raw)} for row_id, raw in rows],
        )


def _handed_on(conn: Connection, hashes: ProviderIdHashes, erased: set[uuid.UUID]) -> None:
    """What waits to be handed on or replayed with a provider's id in its payload: intake's delivery statuses to
    notify name it by its hashes only; notify's reports and the dead letters get its hash, and lose the id where the
    complainant's data was erased (a report or an outcome of an erased delivery) or where it is a delivery status."""
    erased_deliveries = set(
        conn.execute(sa.text("SELECT id FROM notify.deliveries WHERE body = :b"), {"b": ERASED_BODY}).scalars()
    )

    def erased_payload(payload: dict[str, Any]) -> bool:
        try:
            if payload.get("complaint_id") and uuid.UUID(str(payload["complaint_id"])) in erased:
                return True
            return bool(payload.get("delivery_id")) and uuid.UUID(str(payload["delivery_id"])) in erased_deliveries
        except ValueError:
            return False

    def status(payload: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in payload.items() if k != FIELD}
        return {**kept, "provider_message_hashes": hashes.candidates(payload[FIELD])}

    def other(payload: dict[str, Any]) -> dict[str, Any]:
        kept = {**payload, "provider_message_hash": hashes.hash(payload[FIELD])}
        if erased_payload(payload):
            kept[FIELD] = None
        return kept

    for table, key, kind in (
        ("intake.outbox", "id", "message_type"),
        ("notify.handoffs", "message_id", "consumer"),
        ("notify.dead_letters", "id", "task"),
        ("workflow.dead_letters", "id", "task"),
    ):
        rows = conn.execute(
            sa.text(
                f"SELECT {key} AS key, {kind} AS kind, payload FROM {table} "
                "WHERE jsonb_typeof(payload -> :field) = 'string'"
            ),
            {"field": FIELD},
        ).all()
        for row in rows:
            is_status = row.kind in ("intake.ChannelStatusReported", STATUS_TASK)
            changed = status(row.payload) if is_status else other(row.payload)
            where = f"{key} = :key" + (" AND consumer = :kind" if table == "notify.handoffs" else "")
            conn.execute(
                sa.text(f"UPDATE {table} SET payload = CAST(:payload AS jsonb) WHERE {where}"),
                {"payload": json.dumps(changed), "key": row.key, "kind": row.kind},
            )
