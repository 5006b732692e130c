"""Messages the notify service sends back to the workflow. Contracts: add fields, never rename."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from shared.events import Contract

DeliveryState = Literal["sent", "delivered", "failed", "unknown"]


class NotificationReport(Contract):
    """What became of one message to one recipient on one channel. ``sent`` = the provider accepted it;
    ``delivered`` = its delivery receipt came back; ``failed`` = it will not be sent (permanent error,
    or retries exhausted); ``unknown`` = the outcome of a send was lost and the provider cannot tell."""

    TASK: ClassVar[str] = "workflow.record_notification"
    QUEUE: ClassVar[str] = "workflow"

    message_id: UUID  # one per delivery and state: a resend of the same report is recognised
    delivery_id: UUID
    complaint_id: UUID
    kecamatan: str
    source_event_id: UUID
    kind: str  # which notification (acknowledgment, documents_requested, response_letter, ...)
    channel: str
    recipient: str  # masked (+62812****789, b***@example.id): events are read widely
    state: DeliveryState
    provider: str | None = None
    # the provider's id of the message (a WhatsApp id holds the recipient's phone number: the workflow seals it in
    # the event; None once the complainant's data was erased) and its keyed hash (shared.privacy.ProviderIdHashes),
    # which every table matches by (docs/adr/0017, decision 7)
    provider_message_id: str | None = None
    provider_message_hash: str | None = None
    error: str | None = None
    at: datetime
