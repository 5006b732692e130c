"""What the letters service does with the workflow's events.

- ``ComplaintReceived``: the receipt (tanda terima), at once available to the complainant by tracking code.
- ``LetterDrafted`` (step 7): the draft rendered as a PDF (marked DRAF), one per version, all kept.
- ``LetterSigned`` (step 10): the signed response letter (below).
- ``ResponseSent`` (step 12): the signed letter released to the complainant.

Every document is one row per source event (a task that runs twice reuses it) and bytes stored
content-addressed.

Once per ``LetterSigned`` event: the letter is rendered with the number the workflow gave it at signing,
PAdES-signed with the kecamatan's key (so the number is inside what the signature covers), stored
content-addressed, recorded in ``letters.documents`` (one row per event: a task that runs twice reuses the
document), and only then reported to the workflow (``LetterDocumentIssued``), which lets step 11 go on.
"""

from __future__ import annotations

import logging
import uuid
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from services.letters.adapters.pdf import layout_response_letter, render_receipt, render_response_letter
from services.letters.adapters.signing import sign_pdf
from services.letters.adapters.tables import documents, handoffs
from services.letters.bootstrap import Letters
from services.letters.domain.letter import CHANNEL_LABELS, Letterhead, Receipt, ResponseLetter, Signer
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.workflow import ClarificationGiven, ComplaintReceived, LetterDrafted, LetterSigned
from shared.handoffs import Handoff, publish
from shared.staff_directory import staff_directory

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("2d0c6a55-6c65-7474-6572-732d70656e67")
WIB = ZoneInfo("Asia/Jakarta")


def document_id_for(event_id: UUID) -> UUID:
    """The same event always yields the same document id (and so the same QR code and verification URL)."""
    return uuid.uuid5(NAMESPACE, f"letter:{event_id}")


def verify_url(letters: Letters, document_id: UUID) -> str:
    return f"{letters.settings.public_base_url}/v1/letters/verify/{document_id}"


def issue_signed_letter(letters: Letters, event_id: UUID) -> LetterDocumentIssued:
    signed_event = letters.store.read_event(event_id)
    if signed_event is None or signed_event.type != LetterSigned.type:
        raise LookupError(f"no LetterSigned event {event_id}")
    signed = signed_event.decode()
    assert isinstance(signed, LetterSigned)  # noqa: S101
    complaint_id = UUID(signed_event.stream_id.removeprefix("complaint-"))
    document_id = document_id_for(event_id)

    # not issued yet (or a previous attempt died before its commit): make it
    row = _existing(letters, event_id) or _make(letters, signed_event, signed, complaint_id, document_id)
    issued = LetterDocumentIssued(
        message_id=row["id"],
        complaint_id=complaint_id,
        kecamatan=row["kecamatan"],
        document_id=row["id"],
        letter_version=row["letter_version"],
        letter_number=row["letter_number"],
        sha256=row["sha256"],
        size=row["size"],
        verify_url=verify_url(letters, row["id"]),
    )
    # after the commit: a crash here redelivers this task, which finds the row and sends again; the ledger
    # (letters.handoffs) has it sent again should the broker lose it
    with letters.engine.begin() as conn:
        publish(
            letters.celery,
            conn,
            handoffs,
            Handoff(
                consumer=LetterDocumentIssued.TASK,
                message_id=issued.message_id,
                queue=LetterDocumentIssued.QUEUE,
                task_id=f"letter-issued:{row['id']}",
                payload=issued.model_dump(mode="json"),
            ),
        )
    return issued


def _make(letters: Letters, signed_event, signed: LetterSigned, complaint_id: UUID, document_id: UUID) -> dict:
    history = [e for e in letters.store.read_stream(signed_event.stream_id) if e.version < signed_event.version]
    decoded = [e.decode() for e in history]
    received = next(e for e in decoded if isinstance(e, ComplaintReceived))
    draft = next(
        e for e in reversed(decoded) if isinstance(e, LetterDrafted) and e.letter_version == signed.letter_version
    )
    clarification = next((e for e in reversed(decoded) if isinstance(e, ClarificationGiven)), None)
    kecamatan = letters.directory.get(signed_event.kecamatan)
    if kecamatan is None:
        raise LookupError(f"kecamatan {signed_event.kecamatan} is not served here")
    with letters.engine.connect() as conn:
        camat = conn.execute(
            select(staff_directory.c.full_name, staff_directory.c.nip).where(
                staff_directory.c.username == signed_event.actor.user_id
            )
        ).first()
    signed_on = signed_event.occurred_at.astimezone(WIB).date()
    rendered = layout_response_letter(
        ResponseLetter(
            letterhead=_letterhead(kecamatan),
            number=signed.letter_number,
            date=signed_on,
            perihal=draft.perihal,
            addressee_name=received.complainant.name,
            addressee_address=received.complainant.address,
            body=draft.body,
            clarification=clarification.explanation if clarification else None,
            signer=Signer(
                title=f"CAMAT {kecamatan.name.upper()}",
                name=camat.full_name if camat else signed_event.actor.user_id or "",
                rank=None,
                nip=camat.nip if camat else None,
            ),
            verify_url=verify_url(letters, document_id),
        )
    )
    box = rendered.signature_box
    pdf = sign_pdf(
        rendered.pdf,
        letters.identity(kecamatan),
        reason=f"Surat tanggapan pengaduan {received.tracking_code}",
        location=kecamatan.name,
        signed_at=signed_event.occurred_at,
        visible_box=box.box if box and box.page_index == 0 else None,
    )
    stored = letters.documents.put(pdf, "application/pdf")
    values = {
        "id": document_id,
        "source_event_id": signed_event.event_id,
        "complaint_id": complaint_id,
        "tracking_code": received.tracking_code,
        "kecamatan": kecamatan.slug,
        "kind": "response_letter",
        "letter_version": signed.letter_version,
        "letter_number": signed.letter_number,
        "perihal": draft.perihal,
        "signer": camat.full_name if camat else None,
        "signed_on": signed_on,
        "sha256": stored.sha256,
        "size": stored.size,
    }
    row = _record(letters, values)
    log.info("signed letter issued", extra={"document_id": str(row["id"]), "kecamatan": kecamatan.slug})
    return row


def _record(letters: Letters, values: dict) -> dict:
    with letters.engine.begin() as conn:
        conn.execute(insert(documents).values(**values).on_conflict_do_nothing(index_elements=["source_event_id"]))
        return dict(
            conn.execute(select(documents).where(documents.c.source_event_id == values["source_event_id"]))
            .mappings()
            .one()
        )


def _existing(letters: Letters, event_id: UUID) -> dict | None:
    with letters.engine.connect() as conn:
        row = conn.execute(select(documents).where(documents.c.source_event_id == event_id)).mappings().first()
    return dict(row) if row else None


def _letterhead(kecamatan) -> Letterhead:
    head = kecamatan.letterhead
    return Letterhead(
        pemerintah=head.get("pemerintah", f"PEMERINTAH {kecamatan.kabupaten_name.upper()}"),
        kecamatan=head.get("kecamatan", f"KECAMATAN {kecamatan.name.upper()}"),
        address=head.get("address", ""),
        phone=head.get("phone"),
        city=head.get("city", kecamatan.name),
    )


def issue_receipt(letters: Letters, event_id: UUID) -> dict:
    """The tanda terima of a complaint the workflow has received."""
    existing = _existing(letters, event_id)
    if existing:
        return existing
    event = letters.store.read_event(event_id)
    if event is None or event.type != ComplaintReceived.type:
        raise LookupError(f"no ComplaintReceived event {event_id}")
    received = event.decode()
    kecamatan = letters.directory.get(event.kecamatan)
    if kecamatan is None:
        raise LookupError(f"kecamatan {event.kecamatan} is not served here")
    pdf = render_receipt(
        Receipt(
            letterhead=_letterhead(kecamatan),
            tracking_code=received.tracking_code,
            received_at=received.received_at,
            channel=received.channel if received.channel in CHANNEL_LABELS else "web",
            complainant_name=received.complainant.name,
            subject=received.subject,
            track_url=f"{letters.settings.public_base_url}/lacak/{received.tracking_code}",  # the web app's tracking page
        )
    )
    stored = letters.documents.put(pdf, "application/pdf")
    return _record(
        letters,
        {
            "id": uuid.uuid5(NAMESPACE, f"receipt:{event_id}"),
            "source_event_id": event_id,
            "complaint_id": received.complaint_id,
            "tracking_code": received.tracking_code,
            "kecamatan": kecamatan.slug,
            "kind": "receipt",
            "perihal": "Tanda Terima Pengaduan",
            "sha256": stored.sha256,
            "size": stored.size,
            "released_at": received.received_at,
        },
    )


def render_draft(letters: Letters, event_id: UUID) -> dict:
    """A draft of the response letter (step 7), as staff will see it, marked DRAF; every version kept."""
    existing = _existing(letters, event_id)
    if existing:
        return existing
    event = letters.store.read_event(event_id)
    if event is None or event.type != LetterDrafted.type:
        raise LookupError(f"no LetterDrafted event {event_id}")
    draft = event.decode()
    history = [e.decode() for e in letters.store.read_stream(event.stream_id) if e.version < event.version]
    received = next(e for e in history if isinstance(e, ComplaintReceived))
    clarification = next((e for e in reversed(history) if isinstance(e, ClarificationGiven)), None)
    kecamatan = letters.directory.get(event.kecamatan)
    if kecamatan is None:
        raise LookupError(f"kecamatan {event.kecamatan} is not served here")
    pdf = render_response_letter(
        ResponseLetter(
            letterhead=_letterhead(kecamatan),
            number=None,
            date=event.occurred_at.astimezone(WIB).date(),
            perihal=draft.perihal,
            addressee_name=received.complainant.name,
            addressee_address=received.complainant.address,
            body=draft.body,
            clarification=clarification.explanation if clarification else None,
            signer=Signer(title=f"CAMAT {kecamatan.name.upper()}", name="", rank=None, nip=None),
        )
    )
    stored = letters.documents.put(pdf, "application/pdf")
    return _record(
        letters,
        {
            "id": uuid.uuid5(NAMESPACE, f"draft:{event_id}"),
            "source_event_id": event_id,
            "complaint_id": UUID(event.stream_id.removeprefix("complaint-")),
            "tracking_code": received.tracking_code,
            "kecamatan": kecamatan.slug,
            "kind": "draft",
            "letter_version": draft.letter_version,
            "perihal": draft.perihal,
            "sha256": stored.sha256,
            "size": stored.size,
        },
    )


def release_letter(letters: Letters, event_id: UUID) -> int:
    """Step 12 done: the complainant may now download the signed letter by tracking code."""
    event = letters.store.read_event(event_id)
    if event is None:
        raise LookupError(f"no event {event_id}")
    complaint_id = UUID(event.stream_id.removeprefix("complaint-"))
    with letters.engine.begin() as conn:
        return conn.execute(
            update(documents)
            .where(
                documents.c.complaint_id == complaint_id,
                documents.c.kind == "response_letter",
                documents.c.released_at.is_(None),
            )
            .values(released_at=event.occurred_at)
        ).rowcount
