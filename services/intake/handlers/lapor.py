"""A complaint SP4N-LAPOR! disposed to a kecamatan, as the LAPOR! bridge (services/lapor) hands it to intake:
channel ``lapor``, ``received_at`` the time LAPOR! disposed it (when it reached the office), entered by the bridge.
Its files are screened as a channel's are (a file that may not be kept becomes a note in the description, not a
refusal: the complaint is LAPOR!'s, already accepted there). Anonymous reports are accepted whatever the kecamatan's
``anonymous_complaints`` says: LAPOR! accepted them and the kecamatan must answer what LAPOR! disposes to it.
The idempotency key (``lapor:<tracking id>``) makes a second hand-over of the same report answer the first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from services.intake.domain.attachments import refusal_note, screen
from services.intake.domain.commands import EnterComplaint
from services.intake.handlers.context import Context
from services.intake.handlers.submissions import Accepted, enter_complaint
from shared.contracts.intake import Complainant

LAPOR_CHANNEL = "lapor"
ENTERED_BY = "sp4n-lapor"  # who typed it in: the bridge (the staff pages show it beside the channel)


def receive_lapor(
    intake: Context,
    *,
    kecamatan: str,
    complainant: Complainant,
    subject: str,
    description: str,
    received_at: datetime,
    category: str | None,
    files: Sequence[tuple[bytes, str | None]],
    idempotency_key: str,
    correlation_id: UUID,
) -> Accepted:
    """Raises as ``enter_complaint`` does (``UnknownKecamatan``, ``UnknownCategory``, ``IdempotencyKeyReused``)."""
    screened = screen(
        list(files),
        max_bytes=intake.settings.max_attachment_bytes,
        max_count=intake.settings.max_attachments,
        max_pixels=intake.settings.max_image_pixels,
    )
    note = refusal_note(screened.refused)
    command = EnterComplaint(
        kecamatan=kecamatan,
        channel=LAPOR_CHANNEL,
        complainant=complainant,
        subject=subject,
        description=f"{description}\n\n{note}" if note else description,
        received_at=received_at,
        entered_by=ENTERED_BY,
        attachments=[f.attachment() for f in screened.kept],
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
        category=category,
    )
    return enter_complaint(intake, command, screened.kept)
