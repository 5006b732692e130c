"""The Buku Rekap Pengaduan (complaint register) as people read it: its columns, labels in Bahasa Indonesia,
and personal data masked for readers outside the kecamatan (invariant 9). Pure: rows in, values out.

Masking (kabupaten users and admins; a kecamatan's own staff see everything of their kecamatan) is
``shared.masking.COMPLAINT_ROW``, applied to the row before anything here reads it: NIK, phone, e-mail,
name and address masked, no tracking code, and free text written by or about the complainant (the
subject, disposition instructions, the clarification, the referral's reason, a hand-written receipt)
``[disembunyikan]``.
"""

from __future__ import annotations

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
def status_label(row: dict[str, Any]) -> str:
    if row["status"] == "closed":
        return OUTCOME_LABELS.get(row.get("outcome") or "", "Ditutup")
    if row["status"] == "awaiting_documents":
        return "Menunggu kelengkapan identitas"
    step = row.get("current_step")
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
        return f"Dilimpahkan ke {row['referred_to']}" + (f" ({kind})" if kind else "")
    if row.get("disposition_unit"):
        instructions = row.get("disposition_instructions")
        return f"Unit {row['disposition_unit']}" + (f": {instructions}" if instructions else "")
    return ""


def letter_text(row: dict[str, Any], tz: tzinfo) -> str:
    if not row.get("letter_number"):
        return ""
    signed = _date(row.get("letter_signed_at"), tz)
    return f"{row['letter_number']}, {signed}" if signed else row["letter_number"]


# -- one line of the book ----------------------------------------------------------------------------------
def item(row: dict[str, Any], masked: bool) -> dict[str, Any]:
    """A register line as the JSON API gives it."""
    row = _shown(row, masked)
    referral = None
    if row.get("referred_to"):
        referral = {
            "agency": row["referred_to"],
            "agency_kind": row.get("agency_kind"),
            "reason": row.get("referral_reason"),
            "at": row.get("referred_at"),
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
        "status_label": status_label(row),
        "current_step": row.get("current_step"),
    }


def line(row: dict[str, Any], masked: bool, tz: tzinfo) -> list[Any]:
    """A register line as printed (the columns of ``COLUMNS``): text, dates in the office's time zone.
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
        row.get("follow_up") or "",
        letter_text(row, tz),
        sent,
        status_label(row),
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
