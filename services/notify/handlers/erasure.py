"""A complainant's personal data erased (``workflow.PersonalDataErased``, task ``notify.erase_personal_data``;
docs/adr/0017): notify removes it from its own copies, in one unit of work: the complaint's deliveries (both
audiences), the dead letters that name the complaint, its events or its deliveries, and the reports still waiting
in the hand-off ledger. What each keeps and why: ``domain/erasure.py``. Idempotent: a row already erased is left
as it is, and a redelivered task changes nothing more.

The event store no longer holds the values (the complaint's data key was destroyed with the event), so the values
masked in the free texts are those notify's own rows still hold: the addresses written to and the name addressed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from services.notify.domain.erasure import Known, erased_delivery, is_erased, scrubbed_payload
from services.notify.handlers.context import Context
from shared.contracts.workflow import PersonalDataErased

log = logging.getLogger(__name__)

ERASE_TASK = "notify.erase_personal_data"  # the routing contract's subscription "notify-erasure"
STREAM_PREFIX = "complaint-"


@dataclass(frozen=True)
class Erased:
    """What one run changed: rows newly erased (0 each on a run again)."""

    deliveries: int
    dead_letters: int
    handoffs: int


def erase_personal_data(notify: Context, event_id: UUID) -> Erased:
    envelope = notify.store.read_event(event_id)
    if envelope is None or envelope.type != PersonalDataErased.type:
        raise LookupError(f"no PersonalDataErased event {event_id}")
    complaint_id = UUID(envelope.stream_id.removeprefix(STREAM_PREFIX))
    event_ids = [e.event_id for e in notify.store.read_stream(envelope.stream_id)]
    now = notify.clock()
    with notify.uow() as uow:
        rows = uow.deliveries.of_complaint(complaint_id, lock=True)
        known = Known.of(rows)
        fresh = [r for r in rows if not is_erased(r)]
        for row in fresh:
            uow.deliveries.update(row["id"], erased_delivery(row, now, known))
        letters = uow.dead_letters.naming(
            event_ids=event_ids,
            delivery_ids=[r["id"] for r in rows],
            provider_message_ids=[r["provider_message_id"] for r in rows if r["provider_message_id"]],
            provider_message_hashes=[r["provider_message_hash"] for r in rows if r["provider_message_hash"]],
        )
        changed_letters = 0
        for letter in letters:
            payload, error = scrubbed_payload(letter["payload"], known), known.scrub(letter["error"]) or ""
            if (payload, error) != (letter["payload"], letter["error"]):
                uow.dead_letters.rewrite(letter["id"], payload, error)
                changed_letters += 1
        changed_handoffs = 0
        for handoff in uow.handoffs.of_complaint(complaint_id):
            payload = scrubbed_payload(handoff.payload, known)
            if payload != handoff.payload:
                uow.handoffs.rewrite(handoff.consumer, handoff.message_id, payload)
                changed_handoffs += 1
        uow.commit()
    done = Erased(deliveries=len(fresh), dead_letters=changed_letters, handoffs=changed_handoffs)
    log.info(
        "personal data erased from notify's copies",
        extra={
            "complaint_id": str(complaint_id),
            "kecamatan": envelope.kecamatan,
            "event_id": str(event_id),
            "deliveries": done.deliveries,
            "dead_letters": done.dead_letters,
            "handoffs": done.handoffs,
        },
    )
    return done
