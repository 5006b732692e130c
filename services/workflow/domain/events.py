"""Events of the complaint stream (type names are stable contracts; never rename them)."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.contracts.intake import Complainant
from shared.events import Event, registry


@registry.register
class ComplaintReceived(Event):
    """Step 1 done: the complaint is in the workflow, step 2 (identity verification) waits."""

    type = "workflow.ComplaintReceived"
    schema_version = 1

    complaint_id: UUID
    submission_id: UUID
    tracking_code: str
    kecamatan: str
    channel: str
    complainant: Complainant
    subject: str
    description: str
    received_at: datetime
    sop_version: str
    step: int = 1
    output: str = "Form Pengaduan"


def stream_id(complaint_id: UUID) -> str:
    return f"complaint-{complaint_id}"
