"""What intake does on each request. No HTTP here: the API turns results and errors into responses."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.intake.adapters.outbox import NOTIFY_CHANNEL
from services.intake.adapters.tables import outbox, submissions, tracking
from services.intake.bootstrap import Intake
from services.intake.domain.commands import SubmitComplaint
from services.intake.domain.identity import new_tracking_code
from shared.contracts import sop
from shared.contracts.intake import ComplaintSubmitted

log = logging.getLogger(__name__)


class UnknownKecamatan(Exception):
    pass


class IdempotencyKeyReused(Exception):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class Accepted:
    tracking_code: str
    received_at: datetime
    replayed: bool


def submit_complaint(intake: Intake, command: SubmitComplaint) -> Accepted:
    """Store the submission and its outbox message in one transaction; the relay publishes it."""
    idempotency_key = command.idempotency_key
    if intake.directory.get(command.kecamatan) is None:
        raise UnknownKecamatan(command.kecamatan)
    digest = command.content_hash() if idempotency_key else None
    received_at = intake.clock()
    for _ in range(3):  # a tracking-code collision (1 in 2^50) just draws another code
        submission_id, complaint_id = intake.new_id(), intake.new_id()
        code = new_tracking_code(intake.random_bytes(7))
        with intake.engine.begin() as conn:
            inserted = conn.execute(
                insert(submissions)
                .values(
                    id=submission_id,
                    complaint_id=complaint_id,
                    tracking_code=code,
                    kecamatan=command.kecamatan,
                    channel=command.channel,
                    received_at=received_at,
                    idempotency_key=idempotency_key,
                    request_hash=digest,
                    complainant=command.complainant.model_dump(mode="json"),
                    subject=command.subject,
                    description=command.description,
                )
                .on_conflict_do_nothing()
                .returning(submissions.c.id)
            ).first()
            if inserted is None:
                if idempotency_key:
                    existing = conn.execute(
                        select(submissions.c.tracking_code, submissions.c.received_at, submissions.c.request_hash)
                        .where(submissions.c.idempotency_key == idempotency_key)
                    ).first()
                    if existing is not None:
                        if existing.request_hash != digest:
                            raise IdempotencyKeyReused(idempotency_key)
                        return Accepted(existing.tracking_code, existing.received_at, replayed=True)
                continue
            message = ComplaintSubmitted(
                submission_id=submission_id,
                complaint_id=complaint_id,
                tracking_code=code,
                kecamatan=command.kecamatan,
                channel=command.channel,
                complainant=command.complainant,
                subject=command.subject,
                description=command.description,
                received_at=received_at,
                correlation_id=command.correlation_id,
            )
            conn.execute(
                insert(outbox).values(
                    id=submission_id,
                    message_type=ComplaintSubmitted.type,
                    task=ComplaintSubmitted.TASK,
                    queue=ComplaintSubmitted.QUEUE,
                    payload=message.model_dump(mode="json"),
                )
            )
            conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
        log.info("complaint accepted", extra={"kecamatan": command.kecamatan, "submission_id": str(submission_id)})
        return Accepted(code, received_at, replayed=False)
    raise RuntimeError("could not draw a free tracking code three times in a row")


OUTBOX_STUCK_AFTER_S = 60


def outbox_health(intake: Intake) -> dict:
    """How far the outbox is behind: unpublished messages and the age of the oldest. A message waiting
    over a minute means the relay or the broker is not doing its job."""
    with intake.engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
                outbox.c.published_at.is_(None)
            )
        ).one()
    waiting, oldest = row[0], float(row[1] or 0)
    return {"ok": oldest < OUTBOX_STUCK_AFTER_S, "waiting": waiting, "oldest_seconds": round(oldest, 1)}


OUTCOME_LABELS = {
    "resolved": "Tanggapan sudah dikirim kepada Anda",
    "referred": "Dilimpahkan kepada instansi yang berwenang",
    "identity_rejected": "Identitas pengadu tidak dapat diverifikasi",
    "incomplete": "Ditutup karena kelengkapan identitas tidak diterima",
    "withdrawn": "Dicabut oleh pengadu",
    "duplicate": "Sama dengan pengaduan lain yang sudah tercatat",
}

STATUS_LABELS = {
    "received": "Diterima, menunggu diproses",
    "in_progress": "Sedang diproses",
    "awaiting_documents": "Menunggu kelengkapan dokumen dari Anda",
    "closed": "Selesai",
}


def track(intake: Intake, code: str) -> dict | None:
    with intake.engine.connect() as conn:
        row = conn.execute(
            select(
                submissions.c.tracking_code,
                submissions.c.kecamatan,
                submissions.c.received_at,
                tracking.c.status,
                tracking.c.current_step,
                tracking.c.sop_version,
                tracking.c.steps,
                tracking.c.outcome,
                tracking.c.referred_to,
            )
            .select_from(submissions.outerjoin(tracking, tracking.c.complaint_id == submissions.c.complaint_id))
            .where(submissions.c.tracking_code == code)
        ).first()
    if row is None:
        return None
    status = row.status or "received"
    current = None
    if row.current_step is not None:
        current = {"number": row.current_step, "name": sop.DEFINITIONS[row.sop_version].step(row.current_step).name}
    return {
        "tracking_code": row.tracking_code,
        "kecamatan": row.kecamatan,
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "received_at": row.received_at,
        "current_step": current,
        "steps": row.steps or [],
        "outcome": row.outcome,
        "outcome_label": OUTCOME_LABELS.get(row.outcome) if row.outcome else None,
        "referred_to": row.referred_to,
    }
