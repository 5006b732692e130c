from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID

from shared.contracts.intake import Attachment, Complainant
from shared.events import Frozen


class SubmitComplaint(Frozen):
    """A complaint as a citizen submitted it, already validated and normalised."""

    kecamatan: str
    channel: str
    complainant: Complainant
    subject: str
    description: str
    attachments: list[Attachment] = []  # the web form's identity scan and photos (POST /v1/complaints/form)
    idempotency_key: str | None = None
    correlation_id: UUID
    category: str | None = None  # picked from the kabupaten's list (shared/contracts/categories.py)

    def content_hash(self) -> str:
        """What makes two submissions "the same request" for an idempotency key (a field added later and left
        empty is left out: a request's hash stays what it was)."""
        exclude = {"idempotency_key", "correlation_id"} | (set() if self.attachments else {"attachments"})
        # nor the category of an Open311 request: its service is in the subject already, as it always was
        exclude |= set() if self.category and self.channel != "open311" else {"category"}
        content = self.model_dump(mode="json", exclude=exclude)  # without files: the hash it always had
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class EnterComplaint(Frozen):
    """A complaint-box form or a phone call, typed in by staff of the kecamatan, already validated.
    ``received_at`` is when it reached the office (the form was found, the call took place)."""

    kecamatan: str
    channel: str  # kotak | telepon | datang (shared.contracts.intake.STAFF_CHANNELS)
    complainant: Complainant
    subject: str
    description: str
    received_at: datetime
    entered_by: str
    attachments: list[Attachment] = []
    idempotency_key: str | None = None
    correlation_id: UUID
    category: str | None = None  # picked from the kabupaten's list (shared/contracts/categories.py)

    def content_hash(self) -> str:
        exclude = {"idempotency_key", "correlation_id"} | (set() if self.category else {"category"})
        content = self.model_dump(mode="json", exclude=exclude)
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
