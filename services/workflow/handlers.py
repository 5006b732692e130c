"""What the workflow does on each message. Registered in one table at the bottom."""
from __future__ import annotations

import logging
import uuid
from uuid import UUID

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from services.workflow.adapters.tables import inbox
from services.workflow.domain import model
from services.workflow.domain.commands import RecordComplaint
from services.workflow.domain.events import stream_id
from shared.contracts.intake import ComplaintSubmitted
from shared.events import Actor, envelope
from shared.eventstore.postgres import PostgresEventStore

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1a3e-2f43-4a55-9a55-70656e676164")


def derived_event_id(consumer: str, message_id: UUID, index: int) -> UUID:
    """The same message always yields the same event ids (a redelivery can append nothing new)."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{consumer}:{message_id}:{index}")


def record_complaint(engine: Engine, store: PostgresEventStore, message: ComplaintSubmitted) -> bool:
    """Append the complaint's first event, once. Returns False when the message was already processed."""
    consumer = "workflow.record_complaint"
    with engine.begin() as conn:
        claimed = conn.execute(
            insert(inbox)
            .values(consumer=consumer, message_id=message.submission_id)
            .on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        ).first()
        if claimed is None:
            log.info("duplicate message ignored", extra={"message_id": str(message.submission_id)})
            return False
        stream = stream_id(message.complaint_id)
        state = model.replay([e.decode() for e in store.read_stream(stream, conn=conn)])
        new_events = model.decide(state, RecordComplaint(submission=message))
        envelopes = [
            envelope(
                event,
                event_id=derived_event_id(consumer, message.submission_id, i),
                stream_id=stream,
                version=state.version + 1 + i,
                kecamatan=message.kecamatan,
                occurred_at=message.received_at,
                actor=Actor.system("intake"),
                correlation_id=message.correlation_id,
                causation_id=message.submission_id,
            )
            for i, event in enumerate(new_events)
        ]
        store.append(stream, state.version, envelopes, conn=conn)
    log.info("complaint recorded", extra={"complaint_id": str(message.complaint_id), "kecamatan": message.kecamatan})
    return True

