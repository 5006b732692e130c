"""A complaint's public status by its tracking code: the submission and ``intake.tracking``, kept by the
projection in ``adapters/tracking.py``.
"""

from __future__ import annotations

from services.intake.handlers.context import Context
from shared.contracts import sop

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


def track(intake: Context, code: str) -> dict | None:
    with intake.uow() as uow:
        row = uow.tracking.by_code(code)
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
        "letter_available": row.outcome == "resolved",  # ResponseSent: the signed letter was released
    }
