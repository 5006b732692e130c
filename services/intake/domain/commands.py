from __future__ import annotations

import hashlib
import json

from uuid import UUID

from shared.contracts.intake import Complainant
from shared.events import Frozen


class SubmitComplaint(Frozen):
    """A complaint as a citizen submitted it, already validated and normalised."""

    kecamatan: str
    channel: str
    complainant: Complainant
    subject: str
    description: str
    idempotency_key: str | None = None
    correlation_id: UUID

    def content_hash(self) -> str:
        """What makes two submissions "the same request" for an idempotency key."""
        content = self.model_dump(mode="json", exclude={"idempotency_key", "correlation_id"})
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
