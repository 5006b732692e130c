"""Migration 0025 (issue #17, docs/adr/0017 decision 7) on a database of its own: what was stored before it with a
provider's message id in clear (a WhatsApp id is ``wamid.`` and base64 holding the phone number) is rewritten in
place: the notification events' ids sealed under their complaint's data key (null where it was erased) with the
id's keyed hash beside them, the receipts of step 12 naming the message by the hash's start, notify's deliveries
and intake's tables and hand-offs matching by the hash; the code of this release finds the rows by it; the
migration goes down (the sealed ids open again) and up again."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import create_engine, select, text

from devtools.sinks.whatsapp import wamid_for
from services.intake.adapters.postgres import PostgresUnitOfWork as IntakeUnitOfWork
from services.notify.adapters.postgres import PostgresUnitOfWork as NotifyUnitOfWork
from services.notify.domain.erasure import ERASED_BODY
from shared import privacy
from shared.contracts.workflow import provider_reference
from shared.eventstore.postgres import PostgresEventStore
from shared.eventstore.postgres import events as events_table
from tests.integration.test_migration_organisation import alembic, scratch_url  # noqa: F401 (a fixture)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SCHEMAS = ("intake", "workflow", "letters", "notify", "dashboard", "privacy", "tenancy")
NOTIFY_REPORT = "workflow.record_notification"


def insert_event(conn, stream: str, version: int, kind: str, payload: dict) -> None:
    conn.execute(
        text(
            "INSERT INTO workflow.events (event_id, stream_id, version, kecamatan, type, schema_version, occurred_at, "
            "actor, correlation_id, payload) VALUES (:id, :stream, :version, 'uji', :type, 1, :at, "
            "CAST(:actor AS jsonb), :id, CAST(:payload AS jsonb))"
        ),
        {
            "id": uuid.uuid4(),
            "stream": stream,
            "version": version,
            "type": kind,
            "at": NOW,
            "actor": json.dumps({"kind": "system", "user_id": "notify"}),
            "payload": json.dumps(payload),
        },
    )


def notification(delivery_id: uuid.UUID, provider: str, provider_message_id: str, channel: str = "whatsapp") -> dict:
    return {
        "delivery_id": str(delivery_id),
        "kind": "response_letter",
        "audience": "complainant",
        "channel": channel,
        "recipient": "+62812****789",
        "provider": provider,
        "provider_message_id": provider_message_id,
    }


def response_sent(receipt: str) -> dict:
    return {"step": 12, "output": "Pengadu menerima tanggapan", "channel": "whatsapp", "receipt": receipt}


def delivery(conn, delivery_id: uuid.UUID, complaint_id: uuid.UUID, wamid: str, body: str) -> None:
    conn.execute(
        text(
            "INSERT INTO notify.deliveries (id, source_event_id, complaint_id, kecamatan, kind, audience, channel, "
            "recipient, body, state, provider, provider_message_id, sent_at) VALUES (:id, :source, :complaint, "
            "'uji', 'response_letter', 'complainant', 'whatsapp', '+6281234567890', :body, 'sent', 'whatsapp-cloud', "
            ":wamid, :at)"
        ),
        {"id": delivery_id, "source": uuid.uuid4(), "complaint": complaint_id, "body": body, "wamid": wamid, "at": NOW},
    )


def dashboard_row(conn, complaint_id: uuid.UUID, receipt: str) -> None:
    conn.execute(
        text(
            "INSERT INTO dashboard.complaints (complaint_id, kecamatan, tracking_code, received_at, received_date, "
            "complainant_name, channel, subject, status, sop_version, position, sent_channel, receipt) VALUES (:c, "
            "'uji', :code, :at, :day, 'Siti', 'whatsapp', 'Lampu mati', 'closed', 'v1', 1, 'whatsapp', :receipt)"
        ),
        {"c": complaint_id, "code": uuid.uuid4().hex[:12], "at": NOW, "day": date(2026, 11, 2), "receipt": receipt},
    )


def payload_json(value: dict) -> str:
    return json.dumps(value)


def rows_holding(engine, needles: list[str]) -> dict[str, int]:
    found = {}
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"
            ),
            {"schemas": list(SCHEMAS)},
        ).all()
        for schema, table in tables:
            count = conn.execute(
                text(f'SELECT count(*) FROM {schema}."{table}" AS t WHERE t::text LIKE ANY(:p)'),
                {"p": [f"%{n}%" for n in needles]},
            ).scalar_one()
            if count:
                found[f"{schema}.{table}"] = count
    return found


def every_event(store: PostgresEventStore, engine) -> list:
    """Every event, opened: selected directly, since the store's reads need migration 0030 and this database is at
    an older revision."""
    with engine.connect() as conn:
        rows = conn.execute(select(events_table).order_by(events_table.c.position)).mappings().all()
        return store.envelopes(conn, rows)


def test_0025_hashes_provider_ids_seals_them_in_the_events_and_goes_down_and_up(scratch_url):
    config = alembic(scratch_url)
    from alembic import command

    command.upgrade(config, "0024")
    engine = create_engine(scratch_url)
    keys = privacy.default_data_keys()  # as the migration reads them (the environment's settings)
    hashes = privacy.default_provider_id_hashes()
    kept, erased = uuid.uuid4(), uuid.uuid4()  # two complaints; the second's personal data was erased
    kept_id, erased_id, inbound_id = wamid_for("6281234567890"), wamid_for("6281298765432"), wamid_for("6281234567890")
    sms_id = "+6281100009999:gw-4711"
    kept_delivery, erased_delivery, sms_delivery = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        keys.for_writing(conn, kept)
        keys.for_writing(conn, erased)
        keys.erase(conn, erased, by="admin", reason="permintaan pengadu")
        stream, other = f"complaint-{kept}", f"complaint-{erased}"
        insert_event(
            conn, stream, 1, "workflow.NotificationSent", notification(kept_delivery, "whatsapp-cloud", kept_id)
        )
        insert_event(
            conn, stream, 2, "workflow.NotificationSent", notification(sms_delivery, "http-sms", sms_id, "sms")
        )
        insert_event(
            conn, stream, 3, "workflow.NotificationDelivered", notification(kept_delivery, "whatsapp-cloud", kept_id)
        )
        insert_event(
            conn, stream, 4, "workflow.ResponseSent", response_sent(f"whatsapp +62812****890, whatsapp-cloud {kept_id}")
        )
        insert_event(
            conn, other, 1, "workflow.NotificationDelivered", notification(erased_delivery, "whatsapp-cloud", erased_id)
        )
        insert_event(
            conn,
            other,
            2,
            "workflow.ResponseSent",
            response_sent(f"whatsapp +62812****432, whatsapp-cloud {erased_id}"),
        )
        dashboard_row(conn, kept, f"whatsapp +62812****890, whatsapp-cloud {kept_id}")
        dashboard_row(conn, erased, f"whatsapp -, whatsapp-cloud {erased_id}")  # as its erasure left it
        delivery(conn, kept_delivery, kept, kept_id, "Surat tanggapan terlampir.")
        delivery(conn, erased_delivery, erased, erased_id, ERASED_BODY)
        conn.execute(
            text(
                "INSERT INTO intake.inbound_messages (id, channel, provider_message_id, received_at, result) "
                "VALUES (:id, 'whatsapp', :wamid, :at, 'ignored'), (:id2, 'sms', :sms, :at, 'ignored')"
            ),
            {"id": uuid.uuid4(), "wamid": inbound_id, "id2": uuid.uuid4(), "sms": sms_id, "at": NOW},
        )
        raw = {"id": erased_id, "status": "delivered", "recipient_id": "6281298765432", "timestamp": "1793611800"}
        conn.execute(
            text(
                "INSERT INTO intake.channel_statuses (id, provider, provider_message_id, status, recipient_id, raw) "
                "VALUES (:id, 'whatsapp-cloud', :wamid, 'delivered', '6281298765432', CAST(:raw AS jsonb))"
            ),
            {"id": uuid.uuid4(), "wamid": erased_id, "raw": payload_json(raw)},
        )
        status_message = uuid.uuid4()
        conn.execute(
            text(
                "INSERT INTO intake.outbox (id, message_type, task, queue, payload) VALUES (:id, "
                "'intake.ChannelStatusReported', 'notify.record_status', 'notify', CAST(:payload AS jsonb))"
            ),
            {
                "id": status_message,
                "payload": payload_json(
                    {"message_id": str(status_message), "provider": "whatsapp-cloud", "provider_message_id": kept_id,
                     "status": "read", "reference": None}
                ),
            },
        )  # fmt: skip
        for complaint, delivery_id, wamid in ((kept, kept_delivery, kept_id), (erased, erased_delivery, erased_id)):
            report = {"complaint_id": str(complaint), "delivery_id": str(delivery_id), "provider_message_id": wamid}
            conn.execute(
                text(
                    "INSERT INTO notify.handoffs (consumer, message_id, queue, task_id, payload) "
                    "VALUES (:consumer, :id, 'workflow', :task_id, CAST(:payload AS jsonb))"
                ),
                {"consumer": NOTIFY_REPORT, "id": uuid.uuid4(), "task_id": "t", "payload": payload_json(report)},
            )
            conn.execute(
                text(
                    "INSERT INTO workflow.dead_letters (id, task, queue, payload, error) "
                    "VALUES (:id, :task, 'workflow', CAST(:payload AS jsonb), 'x')"
                ),
                {"id": uuid.uuid4(), "task": NOTIFY_REPORT, "payload": payload_json(report)},
            )
        conn.execute(
            text(
                "INSERT INTO notify.dead_letters (id, task, queue, payload, error) "
                "VALUES (:id, 'notify.record_status', 'notify', CAST(:payload AS jsonb), 'x')"
            ),
            {"id": uuid.uuid4(), "payload": payload_json({"provider_message_id": erased_id, "status": "failed"})},
        )

    command.upgrade(config, "0025")

    # the erased complaint's id, the inbound one and any id of the erased number: nowhere. The kept complaint's id:
    # in its delivery and its report waiting for the workflow only (its data stays until erased), and in no event
    number = base64.b64encode(b"628129876").decode()
    assert rows_holding(engine, [erased_id, erased_id.removeprefix("wamid."), number, inbound_id, sms_id]) == {}
    assert rows_holding(engine, [kept_id]) == {"notify.deliveries": 1, "notify.handoffs": 1, "workflow.dead_letters": 1}
    store = PostgresEventStore(engine, keys)
    events = {(e.stream_id, e.version): e for e in every_event(store, engine)}
    sent = events[(stream, 1)].decode()
    assert (sent.provider_message_id, sent.provider_message_hash) == (kept_id, hashes.hash(kept_id))
    assert events[(stream, 2)].decode().provider_message_hash == hashes.hash(sms_id)  # every provider alike
    gone = events[(other, 1)].decode()
    assert (gone.provider_message_id, gone.provider_message_hash) == (None, hashes.hash(erased_id))
    reference = provider_reference("whatsapp-cloud", hashes.hash(kept_id))
    assert events[(stream, 4)].payload["receipt"] == f"whatsapp +62812****890, {reference}"
    assert events[(other, 2)].payload["receipt"].endswith(provider_reference("whatsapp-cloud", hashes.hash(erased_id)))
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT payload FROM workflow.events WHERE stream_id = :s AND version = 1"), {"s": stream}
        )
        assert privacy.is_sealed(stored.scalar_one()["provider_message_id"])
        receipts = dict(conn.execute(text("SELECT complaint_id, receipt FROM dashboard.complaints")).all())
        assert receipts[kept] == f"whatsapp +62812****890, {reference}"
        assert receipts[erased] == f"whatsapp -, {provider_reference('whatsapp-cloud', hashes.hash(erased_id))}"
        status = conn.execute(text("SELECT recipient_id, raw FROM intake.channel_statuses")).one()
        assert status == (None, {"status": "delivered", "timestamp": "1793611800"})
        handed = conn.execute(text("SELECT payload FROM intake.outbox WHERE id = :id"), {"id": status_message})
        assert handed.scalar_one()["provider_message_hashes"] == hashes.candidates(kept_id)
        (letter,) = conn.execute(text("SELECT payload FROM notify.dead_letters")).scalars()
        assert letter == {"status": "failed", "provider_message_hashes": hashes.candidates(erased_id)}
        reports = {
            p["complaint_id"]: (p["provider_message_id"], p["provider_message_hash"])
            for p in conn.execute(text("SELECT payload FROM notify.handoffs")).scalars()
        }
        assert reports == {str(kept): (kept_id, hashes.hash(kept_id)), str(erased): (None, hashes.hash(erased_id))}

    # this release's code finds the rows by the hash
    with NotifyUnitOfWork(engine) as uow:
        assert uow.deliveries.by_provider("whatsapp-cloud", hashes.candidates(kept_id))["id"] == kept_delivery
        found = uow.deliveries.by_provider("whatsapp-cloud", hashes.candidates(erased_id))
        assert (found["id"], found["provider_message_id"]) == (erased_delivery, None)
    with IntakeUnitOfWork(engine) as uow:
        assert uow.inbound.outcome("whatsapp", hashes.candidates(inbound_id)) is not None
        assert uow.inbound.outcome("sms", hashes.candidates(sms_id)) is not None
        assert uow.statuses.id_of(hashes.hash(erased_id), "delivered") is not None

    command.downgrade(config, "0024")
    events = {(e.stream_id, e.version): e for e in every_event(store, engine)}
    assert events[(stream, 1)].payload["provider_message_id"] == kept_id  # opened again, in clear
    assert "provider_message_hash" not in events[(stream, 1)].payload
    assert events[(other, 1)].payload["provider_message_id"] is None  # erased stays erased
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM intake.inbound_messages LIMIT 0")).keys()
        assert "provider_message_id" in columns and "provider_message_hash" not in columns
    command.upgrade(config, "0025")
    again = every_event(PostgresEventStore(engine, keys), engine)
    assert [e.decode().provider_message_hash for e in again if e.type == "workflow.NotificationSent"] == [
        hashes.hash(kept_id),
        hashes.hash(sms_id),
    ]
    engine.dispose()
