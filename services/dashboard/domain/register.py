"""The Buku Rekap Pengaduan (complaint register) as people read it: its columns, labels in Bahasa Indonesia,
and personal data masked for readers outside the kecamatan (invariant 9). Pure: rows in, values out.

Masking (kabupaten users and admins; a kecamatan's own staff see everything of their kecamatan) is
``shared.masking.COMPLAINT_ROW``, applied to the row before anything here reads it: NIK, phone, e-mail,
name and address masked, no tracking code, and free text written by or about the complainant (the
subject, disposition instructions, the clarification, the referral's reason, a hand-written receipt)
``[disembunyikan]``.

A referral (dilimpahkan) is followed until the receiving office answers: while it is, the book says
``Dilimpahkan ke <agency>`` (with the surat pelimpahan's number) and, under Tindak Lanjut, until when the
kecamatan waits; once answered, the office's answer (masked readers: ``[disembunyikan]``, it may quote the
complainant); once lapsed, that no answer came by then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from shared import masking
from shared.contracts.intake import CHANNEL_LABELS

HIDDEN = masking.REDACTED

COLUMNS = (
    ("No. Register", 11),
    ("Tanggal Diterima", 17),
    ("Nama Pengadu", 22),
    ("Alamat", 26),
    ("Saluran", 12),
    ("Perihal / Isi Singkat", 34),
    ("Disposisi", 30),
    ("Tindak Lanjut", 34),
    ("Nomor & Tanggal Surat Tanggapan", 27),
    ("Tanggal Dikirim", 14),
    ("Status", 22),
    ("Kategori", 18),  # after the SOP's columns: the kabupaten's list (issue #18 item 2); "-" until one is set
)

OUTCOME_LABELS = {
    "resolved": "Selesai, tanggapan dikirim",
    "referred": "Dilimpahkan",
    "identity_rejected": "Ditolak, identitas tidak jelas",
    "incomplete": "Ditutup, identitas tidak lengkap",
    "withdrawn": "Dicabut",
    "duplicate": "Duplikat",
}
AGENCY_KIND_LABELS = {"opd": "OPD", "desa": "Desa", "sp4n-lapor": "SP4N-LAPOR", "lainnya": "Lainnya"}
# a closed referral, by where it ended (``referral_state``); an older one (unfollowed) is OUTCOME_LABELS' own
REFERRAL_LABELS = {
    "answered": "Dilimpahkan, sudah ditanggapi",
    "lapsed": "Dilimpahkan, tanpa tanggapan",
}


# -- masking ---------------------------------------------------------------------------------------------
def _shown(row: dict[str, Any], masked: bool) -> dict[str, Any]:
    """The row as this reader may see it: ``shared.masking.COMPLAINT_ROW``, the one policy of every view."""
    return masking.complaint_row(row, masked)


def complainant(row: dict[str, Any]) -> dict[str, str | None]:
    return {
        "name": row.get("complainant_name"),
        "nik": row.get("complainant_nik"),
        "phone": row.get("complainant_phone"),
        "email": row.get("complainant_email"),
        "address": row.get("complainant_address"),
    }


# -- labels ------------------------------------------------------------------------------------------------
def status_label(row: dict[str, Any], tz: tzinfo | None = None) -> str:
    if row["status"] == "referred":  # followed: the kecamatan waits for the receiving office's answer
        until = _date(row.get("referral_follow_up_by"), tz) if tz is not None else ""
        return "Dilimpahkan, menunggu tanggapan" + (f" (dipantau s.d. {until})" if until else "")
    if row["status"] == "closed":
        if row.get("outcome") == "referred" and row.get("referral_state") in REFERRAL_LABELS:
            return REFERRAL_LABELS[row["referral_state"]]
        return OUTCOME_LABELS.get(row.get("outcome") or "", "Ditutup")
    if row["status"] == "awaiting_documents":
        return "Menunggu kelengkapan identitas"
    if row["status"] == "objection":  # docs/adr/0020
        return "Keberatan pengadu, menunggu jawaban Camat"
    step = row.get("current_step")
    if step and row.get("reopened"):
        return f"Dibuka kembali (langkah {step})"
    return f"Dalam proses (langkah {step})" if step else "Dalam proses"


def register_label(row: dict[str, Any]) -> str | None:
    return f"{row['register_number']}/{row['register_year']}" if row.get("register_number") else None


def _date(value: datetime | None, tz: tzinfo, with_time: bool = False) -> str:
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%d-%m-%Y %H:%M" if with_time else "%d-%m-%Y")


def disposition_text(row: dict[str, Any]) -> str:
    if row.get("referred_to"):
        kind = AGENCY_KIND_LABELS.get(row.get("agency_kind") or "", row.get("agency_kind") or "")
        letter = row.get("referral_letter_number")
        return (
            f"Dilimpahkan ke {row['referred_to']}"
            + (f" ({kind})" if kind else "")
            + (f", surat pelimpahan {letter}" if letter else "")
        )
    if row.get("disposition_unit"):
        instructions = row.get("disposition_instructions")
        return f"Unit {row['disposition_unit']}" + (f": {instructions}" if instructions else "")
    return ""


def follow_up_text(row: dict[str, Any], tz: tzinfo) -> str:
    """The Tindak Lanjut column: step 5's clarification; for a referral, the receiving office's part."""
    state, agency = row.get("referral_state"), row.get("referred_to")
    if state == "followed":
        until = _date(row.get("referral_follow_up_by"), tz)
        return f"Menunggu tanggapan {agency}" + (f", dipantau s.d. {until}" if until else "")
    if state == "answered":
        answered_on = row.get("referral_answered_on")
        reference = row.get("referral_reference")
        return (
            f"Tanggapan {agency}"
            + (f" tanggal {answered_on.strftime('%d-%m-%Y')}" if answered_on else "")
            + (f" ({reference})" if reference else "")
            + f": {row.get('referral_answer') or ''}"
        )
    if state == "lapsed":
        until = _date(row.get("referral_follow_up_by"), tz)
        return f"Tidak ada tanggapan {agency}" + (f" s.d. {until}" if until else "")
    return row.get("follow_up") or ""


def letter_text(row: dict[str, Any], tz: tzinfo) -> str:
    if not row.get("letter_number"):
        return ""
    signed = _date(row.get("letter_signed_at"), tz)
    return f"{row['letter_number']}, {signed}" if signed else row["letter_number"]


# -- one line of the book ----------------------------------------------------------------------------------
def item(row: dict[str, Any], masked: bool, tz: tzinfo | None = None) -> dict[str, Any]:
    """A register line as the JSON API gives it (``tz``: the office's, for the dates in ``status_label``)."""
    row = _shown(row, masked)
    referral = None
    if row.get("referred_to"):
        answered = row.get("referral_state") == "answered"
        referral = {
            "agency": row["referred_to"],
            "agency_kind": row.get("agency_kind"),
            "reason": row.get("referral_reason"),
            "at": row.get("referred_at"),
            "state": row.get("referral_state"),
            "letter_number": row.get("referral_letter_number"),
            "follow_up_by": row.get("referral_follow_up_by"),
            "answer": (
                {
                    "text": row.get("referral_answer"),
                    "answered_on": row.get("referral_answered_on"),
                    "reference": row.get("referral_reference"),
                    "at": row.get("referral_ended_at"),
                }
                if answered
                else None
            ),
            "ended_at": row.get("referral_ended_at"),
        }
    disposition = None
    if row.get("disposition_unit"):
        disposition = {
            "unit": row["disposition_unit"],
            "instructions": row.get("disposition_instructions"),
            "at": row.get("disposed_at"),
        }
    return {
        "register_number": register_label(row),
        "number": row.get("register_number"),
        "year": row.get("register_year"),
        "complaint_id": row["complaint_id"],
        "tracking_code": row.get("tracking_code"),
        "received_at": row["received_at"],
        "complainant": complainant(row),
        "channel": row["channel"],
        "channel_label": CHANNEL_LABELS.get(row["channel"], row["channel"]),
        "category": row.get("category"),
        "subject": row["subject"],
        "disposition": disposition,
        "referral": referral,
        "follow_up": ({"text": row["follow_up"], "at": row.get("followed_up_at")} if row.get("follow_up") else None),
        "letter": (
            {"number": row["letter_number"], "signed_at": row.get("letter_signed_at")}
            if row.get("letter_number")
            else None
        ),
        "sent_at": row.get("sent_at"),
        "sent_channel": row.get("sent_channel"),
        "receipt": row.get("receipt"),
        "status": row["status"],
        "outcome": row.get("outcome"),
        "status_label": status_label(row, tz),
        "current_step": row.get("current_step"),
    }


def line(row: dict[str, Any], masked: bool, tz: tzinfo, categories: Mapping[str, str] | None = None) -> list[Any]:
    """A register line as printed (the columns of ``COLUMNS``): text, dates in the office's time zone, the category
    by its name in ``categories`` (the kabupaten's list, code -> name).
    ``Tanggal Diterima`` and ``Tanggal Dikirim`` are datetimes (naive, local): spreadsheets keep them dates."""
    row = _shown(row, masked)
    person = complainant(row)
    received = row["received_at"].astimezone(tz).replace(tzinfo=None)
    sent = row["sent_at"].astimezone(tz).replace(tzinfo=None) if row.get("sent_at") else None
    return [
        register_label(row) or "",
        received,
        person["name"] or "",
        person["address"] or "",
        CHANNEL_LABELS.get(row["channel"], row["channel"]),
        row["subject"],
        disposition_text(row),
        follow_up_text(row, tz),
        letter_text(row, tz),
        sent,
        status_label(row, tz),
        (categories or {}).get(row.get("category") or "", row.get("category") or "-"),
    ]


def period_label(start: date | None, end: date | None, year: int | None) -> str:
    """``Periode: 01-02-2026 s.d. 28-02-2026`` / ``Tahun 2026`` / ``Semua``."""
    parts = []
    if start or end:
        parts.append(
            f"{start.strftime('%d-%m-%Y') if start else '...'} s.d. {end.strftime('%d-%m-%Y') if end else '...'}"
        )
    if year is not None:
        parts.append(f"tahun register {year}")
    return "Periode: " + (", ".join(parts) if parts else "semua")
