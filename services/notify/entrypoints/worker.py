"""The notify worker's handler table: what each message on queue ``notify`` does.

Registered by the composition root (``shared.tasks.register_consumers``: the failure rules, dead letters).
Tasks: ``notify.plan`` (an event's messages), ``notify.escalate`` (overdue alerts), ``notify.send`` (one
message, exactly once: services/notify/handlers/sending.py), ``notify.record_outcome`` (a provider's answer its send
could not write), ``notify.record_status`` (a provider's delivery receipt, from intake's webhooks),
``notify.erase_personal_data`` (a complainant's personal data erased: removed from notify's copies).
The relay's tasks and the receipts are recorded in the inbox once handled or kept, so the relay's and intake's
reconcilers stop resending them: ``notify.plan`` records its event itself, in the plan's transaction
(``records_inbox``), the others' are recorded by the machinery after the handler; a dead letter's by the machinery
always."""

from __future__ import annotations

import uuid

from services.notify.handlers.erasure import ERASE_TASK, erase_personal_data
from services.notify.handlers.outcomes import OUTCOME_TASK, record_outcome
from services.notify.handlers.planning import escalate, plan_event
from services.notify.handlers.sending import SEND_TASK, send_delivery
from services.notify.handlers.statuses import record_status
from shared.contracts.routing import DELIVERY_STATUS_TASK
from shared.service import Consumer

ESCALATE = "notify.escalate"
PLAN = "notify.plan"


def _event_id(message: dict, _request: object = None) -> uuid.UUID:
    return uuid.UUID(message["event_id"])


def _status_id(message: dict, request) -> uuid.UUID:
    # intake's outbox row id: in the message since it is reconciled, and the task id of every publish (rows
    # written before carry only the latter)
    return uuid.UUID(message.get("message_id") or request.id)


CONSUMERS = (
    Consumer(ESCALATE, lambda notify, m: escalate(notify, _event_id(m)), inbox_key=_event_id),
    Consumer(
        PLAN, lambda notify, m: plan_event(notify, _event_id(m), inbox=PLAN), inbox_key=_event_id, records_inbox=True
    ),
    Consumer(SEND_TASK, lambda notify, m: send_delivery(notify, uuid.UUID(m["delivery_id"]))),
    Consumer(OUTCOME_TASK, record_outcome),
    Consumer(DELIVERY_STATUS_TASK, record_status, inbox_key=_status_id),
    Consumer(ERASE_TASK, lambda notify, m: erase_personal_data(notify, _event_id(m)), inbox_key=_event_id),
)
