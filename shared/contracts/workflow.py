"""Workflow events other services read (through the relay, projections and the feed). Contracts: add
fields, never rename or remove them; a breaking change is a new schema_version with an upcaster."""
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
