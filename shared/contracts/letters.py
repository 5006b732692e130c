"""Messages the letters service sends back to the workflow. Contracts: add fields, never rename."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from shared.events import Contract


class LetterDocumentIssued(Contract):
    """The signed response letter exists: rendered with its number, PAdES-signed, stored. The document
    row in ``letters.documents`` is committed before this message is sent."""

    TASK: ClassVar[str] = "workflow.record_letter_document"
    QUEUE: ClassVar[str] = "workflow"

    message_id: UUID  # = the document id: a resend is recognised
    complaint_id: UUID
    kecamatan: str
    document_id: UUID
    letter_version: int
    letter_number: str
    sha256: str
    size: int
    verify_url: str
