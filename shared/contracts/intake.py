"""Messages intake publishes to other services. Contracts: add fields, never rename or remove them."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import EmailStr

from shared.events import Contract

# How a complaint reached the office (``ComplaintSubmitted.channel``), as every page, register and receipt names
# it: one list, so a new channel shows the same words everywhere (letters' receipt, the dashboard's Buku Rekap,
# the web's staff pages; the dashboard page's script keeps a copy, ``KANAL`` in dasbor.js).
CHANNEL_LABELS: dict[str, str] = {
    "web": "Formulir web",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "kotak": "Kotak pengaduan",
    "telepon": "Telepon",
    "datang": "Datang langsung",
    "lapor": "SP4N-LAPOR!",  # a report LAPOR! disposed to the kecamatan (services/lapor, docs/adr/0023)
}
# The channels staff type in themselves (``POST /v1/staff/complaints``): a form found in the complaint box, a
# phone call, a complainant who came to the office.
STAFF_CHANNELS: tuple[str, ...] = ("kotak", "telepon", "datang")


class Complainant(Contract):
    name: str
    nik: str | None = None
    phone: str | None = None  # E.164
    email: EmailStr | None = None
    address: str | None = None
    # pelapor rahasia (issue #17 item 5): the complainant asked that their identity be kept confidential; only the
    # officer who verifies identity (Kasi/Kasubag) and the Camat see it (shared.masking.sees_personal_data). Part of the
    # person's record, so it travels (and is sealed, and erased) with it
    confidential: bool = False
    # an anonymous complaint (no identity; only where its kecamatan accepts them, setting "anonymous_complaints"): the
    # name is ANONYMOUS_NAME and nothing else is known; the workflow skips identity verification, saying why
    anonymous: bool = False


ANONYMOUS_NAME = "(anonim)"


def anonymous_complainant() -> Complainant:
    return Complainant(name=ANONYMOUS_NAME, anonymous=True)


class Attachment(Contract):
    """A file that came with a complaint or a reply (photo, scan of KTP/SIM/KK), stored content-addressed;
    its bytes are never in a message. ``content_type`` is what the bytes are (magic numbers), not what the
    sender said."""

    sha256: str
    content_type: str
    size: int
    filename: str | None = None
    kind: str | None = None  # ktp | sim | kk | foto | lainnya, when known


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
    attachments: list[Attachment] = []
    # a complaint-box form or a phone call typed in by staff: when it was entered, and by whom
    # (received_at stays the time the complaint reached the office: step 1 is measured from it)
    entered_at: datetime | None = None
    entered_by: str | None = None
    # the category the complainant picked from their kabupaten's list (shared/contracts/categories.py), if any
    category: str | None = None


class FeedbackGiven(Contract):
    """The complainant's answer, on the tracking page, to whether their closed complaint is resolved (issue #18
    item 1): intake accepted it once for this closing; its outbox carries it to the workflow, which decides what it
    leads to (docs/adr/0020)."""

    type: ClassVar[str] = "intake.FeedbackGiven"
    schema_version: ClassVar[int] = 1
    TASK: ClassVar[str] = "workflow.record_feedback"
    QUEUE: ClassVar[str] = "workflow"

    message_id: UUID  # a redelivery is recognised
    complaint_id: UUID
    kecamatan: str
    closing: int  # which closing it answers (1 the first)
    satisfied: bool
    rating: int
    comment: str | None = None
    given_at: datetime


class ComplainantReplied(Contract):
    """A message from a complainant whose complaint awaits documents (step 2): it joins that complaint
    instead of opening a new one. Intake's outbox carries it to the workflow."""

    type: ClassVar[str] = "intake.ComplainantReplied"
    schema_version: ClassVar[int] = 1
    TASK: ClassVar[str] = "workflow.record_reply"
    QUEUE: ClassVar[str] = "workflow"

    message_id: UUID  # intake's id of the inbound message: a redelivery is recognised
    complaint_id: UUID
    kecamatan: str
    channel: str
    sender: str  # the phone number (E.164) or e-mail address it came from
    text: str
    attachments: list[Attachment] = []
    received_at: datetime
