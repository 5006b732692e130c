"""The Buku Rekap Pengaduan (complaint register) as people read it: its columns, labels in Bahasa Indonesia,
and personal data masked for readers outside the kecamatan (invariant 9). Pure: rows in, values out.

Masking (kabupaten users and admins; a kecamatan's own staff see everything of their kecamatan):
NIK ``3528********0001`` (first 4 and last 4 digits), phone ``+62812****890`` (first 6, last 3), e-mail
``s***@example.id``, address ``***``, name its first word (``Siti ***``, as the workflow's complaint page),
and free text written by or about the complainant (disposition instructions, the clarification, the
referral's reason, a hand-written receipt) ``[disembunyikan]``.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

HIDDEN = "[disembunyikan]"

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

CHANNEL_LABELS = {
    "web": "Formulir web", "sms": "SMS", "whatsapp": "WhatsApp", "email": "E-mail", "kotak": "Kotak pengaduan",
    "telepon": "Telepon",
}
OUTCOME_LABELS = {
    "resolved": "Selesai, tanggapan dikirim",
    "referred": "Dilimpahkan",
    "identity_rejected": "Ditolak, identitas tidak jelas",
    "incomplete": "Ditutup, identitas tidak lengkap",
    "withdrawn": "Dicabut",
    "duplicate": "Duplikat",
}
AGENCY_KIND_LABELS = {"opd": "OPD", "desa": "Desa", "sp4n-lapor": "SP4N-LAPOR", "lainnya": "Lainnya"}


# -- masking -----------------------------------------------------------------------------------------------
def mask_nik(value: str | None) -> str | None:
    if not value:
        return value
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:6] + "****" + value[-3:] if len(value) > 9 else "****"


def mask_email(value: str | None) -> str | None:
    if not value:
        return value
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    words = value.split()
    return f"{words[0]} ***" if words else "***"


def mask_address(value: str | None) -> str | None:
    return "***" if value else value


def complainant(row: dict[str, Any], masked: bool) -> dict[str, str | None]:
    person = {
        "name": row["complainant_name"], "nik": row.get("complainant_nik"), "phone": row.get("complainant_phone"),
        "email": row.get("complainant_email"), "address": row.get("complainant_address"),
    }
    if not masked:
        return person
    return {
        "name": mask_name(person["name"]), "nik": mask_nik(person["nik"]), "phone": mask_phone(person["phone"]),
        "email": mask_email(person["email"]), "address": mask_address(person["address"]),
    }


def _text(value: str | None, masked: bool) -> str | None:
    return HIDDEN if masked and value else value


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


def disposition_text(row: dict[str, Any], masked: bool) -> str:
    if row.get("referred_to"):
        kind = AGENCY_KIND_LABELS.get(row.get("agency_kind") or "", row.get("agency_kind") or "")
        return f"Dilimpahkan ke {row['referred_to']}" + (f" ({kind})" if kind else "")
    if row.get("disposition_unit"):
        instructions = _text(row.get("disposition_instructions"), masked)
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
    referral = None
    if row.get("referred_to"):
        referral = {"agency": row["referred_to"], "agency_kind": row.get("agency_kind"),
                    "reason": _text(row.get("referral_reason"), masked), "at": row.get("referred_at")}
    disposition = None
    if row.get("disposition_unit"):
        disposition = {"unit": row["disposition_unit"], "instructions": _text(row.get("disposition_instructions"), masked),
                       "at": row.get("disposed_at")}
    return {
        "register_number": register_label(row),
        "number": row.get("register_number"),
        "year": row.get("register_year"),
        "complaint_id": row["complaint_id"],
        "tracking_code": row["tracking_code"],
        "received_at": row["received_at"],
        "complainant": complainant(row, masked),
        "channel": row["channel"],
        "channel_label": CHANNEL_LABELS.get(row["channel"], row["channel"]),
        "subject": row["subject"],
        "disposition": disposition,
        "referral": referral,
        "follow_up": ({"text": _text(row["follow_up"], masked), "at": row.get("followed_up_at")}
                      if row.get("follow_up") else None),
        "letter": ({"number": row["letter_number"], "signed_at": row.get("letter_signed_at")}
                   if row.get("letter_number") else None),
        "sent_at": row.get("sent_at"),
        "sent_channel": row.get("sent_channel"),
        "receipt": _text(row.get("receipt"), masked),
        "status": row["status"],
        "outcome": row.get("outcome"),
        "status_label": status_label(row),
        "current_step": row.get("current_step"),
    }


def line(row: dict[str, Any], masked: bool, tz: tzinfo) -> list[Any]:
    """A register line as printed (the columns of ``COLUMNS``): text, dates in the office's time zone.
    ``Tanggal Diterima`` and ``Tanggal Dikirim`` are datetimes (naive, local): spreadsheets keep them dates."""
    person = complainant(row, masked)
    received = row["received_at"].astimezone(tz).replace(tzinfo=None)
    sent = row["sent_at"].astimezone(tz).replace(tzinfo=None) if row.get("sent_at") else None
    return [
        register_label(row) or "",
        received,
        person["name"] or "",
        person["address"] or "",
        CHANNEL_LABELS.get(row["channel"], row["channel"]),
        row["subject"],
        disposition_text(row, masked),
        _text(row.get("follow_up"), masked) or "",
        letter_text(row, tz),
        sent,
        status_label(row),
    ]


def period_label(start, end, year: int | None) -> str:
    """``Periode: 01-02-2026 s.d. 28-02-2026`` / ``Tahun 2026`` / ``Semua``."""
    parts = []
    if start or end:
        parts.append(f"{start.strftime('%d-%m-%Y') if start else '...'} s.d. {end.strftime('%d-%m-%Y') if end else '...'}")
    if year is not None:
        parts.append(f"tahun register {year}")
    return "Periode: " + (", ".join(parts) if parts else "semua")
