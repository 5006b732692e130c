"""Messages intake publishes to other services. Contracts: add fields, never rename or remove them."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import EmailStr

from shared.events import Contract


class Complainant(Contract):
    name: str
    nik: str | None = None
    phone: str | None = None  # E.164
    email: EmailStr | None = None
    address: str | None = None


class ComplaintSubmitted(Contract):
    """A complaint accepted by intake (the SOP's ComplaintReceived, as intake publishes it).

    The outbox row holding this message is the durable copy; the broker carries it on to the workflow.
    """

    type: ClassVar[str] = "intake.ComplaintReceived"
    schema_version: ClassVar[int] = 1
    TASK: ClassVar[str] = "workflow.record_complaint"
    QUEUE: ClassVar[str] = "workflow"

    submission_id: UUID
    complaint_id: UUID
    tracking_code: str
    kecamatan: str
    channel: str
    complainant: Complainant
    subject: str
    description: str
    received_at: datetime
    correlation_id: UUID
