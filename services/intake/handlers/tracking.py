"""A complaint's public status by its tracking code: the submission and ``intake.tracking``, kept by the
projection in ``adapters/tracking.py``.

A referral (dilimpahkan) is followed by the kecamatan until the receiving office answers or the follow-up time
passes: while it is, the status says to whom and until when; then the outcome says what the office answered. The
answer is addressed to the complainant, who holds the code, so its text is shown, masked of personal data
(``shared.masking.scrub``: the complainant's own values, anything shaped like a NIK, a phone number or an e-mail
address).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.intake.handlers.context import Context
from services.intake.handlers.feedback import open_for_answer
from services.intake.unit_of_work import Tracked
from shared import masking
from shared.contracts import sop
from shared.contracts.workflow import ERASED_NAME
from shared.tanggal import format_tanggal
from shared.tenancy import DEFAULT_TIME_ZONE

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
    "referred": "Dilimpahkan, dipantau kecamatan",  # with the agency and until when: _referral
    "objection": "Keberatan Anda sedang diperiksa Camat",
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
    found = {
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
        "referral": None,
        # a response was released (ResponseSent); still while a reopened complaint's new letter is prepared
        "letter_available": row.closings >= 1 or row.outcome == "resolved",
        "feedback": _feedback(intake, row),
        "reopened": row.reopened,
        "objection": row.objection_state,
    }
    if row.reopened and status == "in_progress":
        found["status_label"] = "Dibuka kembali, sedang ditangani ulang"
    if row.referred_to and row.referral_state in ("followed", "answered", "lapsed"):
        found.update(_referral(intake, row))
    return found


def _feedback(intake: Context, row: Tracked) -> dict | None:
    """After a closing with a response: whether the complainant may answer it now, whether they did, and the
    Camat's answer to their keberatan, masked as a referral's answer is (docs/adr/0020)."""
    if row.closings < 1:
        return None
    answer = _masked(row, row.objection_answer) if row.objection_answer else None
    return {
        "open": open_for_answer(row, intake.clock(), intake.settings.feedback_open_days),
        "given": row.feedback_closing >= row.closings,
        "closing": row.closings,
        "objection_answer": answer,
    }


def _masked(row: Tracked, text: str) -> str:
    """A text addressed to the complainant (an office's or the Camat's answer), masked of their own values and of
    anything shaped like a NIK, a phone number or an e-mail address (``shared.masking.scrub``)."""
    person = row.complainant or {}
    known = [person.get(k) for k in ("nik", "phone", "email", "address")]
    name = person.get("name")  # after an erasure, "(data pribadi dihapus)": nothing of hers to hide in the text
    return masking.scrub(text, known, names=[name] if name != ERASED_NAME else [])


def _referral(intake: Context, row: Tracked) -> dict:
    """The status and outcome texts of a followed referral, and where it stands."""
    kecamatan = intake.directory.get(row.kecamatan)
    zone = kecamatan.time_zone if kecamatan is not None else ZoneInfo(DEFAULT_TIME_ZONE)

    def tanggal(at: datetime | None) -> str:
        return format_tanggal(at.astimezone(zone).date()) if at else ""

    agency, until = row.referred_to, tanggal(row.follow_up_by)
    answer = None
    if row.referral_state == "answered" and row.referral_answer:
        answer = _masked(row, row.referral_answer)
    texts: dict = {
        "referral": {
            "agency": agency,
            "state": row.referral_state,
            "follow_up_by": row.follow_up_by,
            "answer": answer,
            "answered_on": row.referral_answered_on if row.referral_state == "answered" else None,
        }
    }
    if row.referral_state == "followed":
        texts["status_label"] = f"Dilimpahkan ke {agency}; kecamatan memantau sampai {until}"
    elif row.referral_state == "answered":
        texts["outcome_label"] = "Instansi penerima telah menanggapi" + (f": {answer}" if answer else "")
    else:
        texts["outcome_label"] = (
            f"{agency} belum menanggapi sampai {until}; kecamatan tidak lagi memantau. Tanyakan tindak lanjutnya "
            "langsung kepada instansi tersebut"
        )
    return texts
