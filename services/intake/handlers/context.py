"""What intake's handlers need: a fresh unit of work per attempt (services/intake/unit_of_work.py), the kecamatan
served, the document store for the files' bytes, the WhatsApp media fetcher, and the clock, ids and random
bytes (given, so that tests choose them). ``bootstrap.Intake`` adds what the processes need besides (the engine
and the broker).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from services.intake.adapters.retry import WriteRetry
from services.intake.adapters.whatsapp import MediaFetcher
from services.intake.config import IntakeSettings
from services.intake.domain.attachments import CheckedFile
from services.intake.unit_of_work import UnitOfWork
from shared.storage import DocumentStore
from shared.tenancy import Kecamatan


class Directory(Protocol):
    """The kecamatan served here (``shared.tenancy.KecamatanDirectory``)."""

    def get(self, slug: str) -> Kecamatan | None: ...


@dataclass
class Context:
    settings: IntakeSettings
    uow: Callable[[], UnitOfWork]
    directory: Directory
    documents: DocumentStore
    whatsapp_media: MediaFetcher | None = None  # None when no WhatsApp token is set: media are noted as missing
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], uuid.UUID] = field(default=uuid.uuid4)
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)


def write_retry(ctx: Context, what: str) -> WriteRetry:
    """The budget of one request's database work (``PENGADUAN_INTAKE_WRITE_RETRY_SECONDS``)."""
    return WriteRetry(ctx.settings.intake_write_retry_seconds, what)


def store_files(ctx: Context, files: Sequence[CheckedFile]) -> None:
    """Bytes first, rows after: the store is content-addressed and idempotent, so bytes whose rows never
    commit are harmless (and a retry stores nothing twice)."""
    for f in files:
        ctx.documents.put(f.data, f.content_type)
