"""What a letter is: the data a response letter (surat tanggapan) or a complaint receipt (tanda terima)
is printed from, and what printing gives back (the PDF, its pages, where the signature goes). Pure data and
the dates as Indonesian letters write them; the rendering is ``services/letters/adapters/pdf.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from shared.tanggal import format_tanggal

__all__ = [
    "WIB",
    "Letterhead",
    "Receipt",
    "RenderedLetter",
    "ResponseLetter",
    "SignatureBox",
    "Signer",
    "format_waktu_wib",
]

# Western Indonesia Time: UTC+7 with no daylight saving since 1964. A fixed offset, so the receipt does
# not depend on the machine's tz database (python:3.11-slim has none).
WIB = timezone(timedelta(hours=7), "WIB")


@dataclass(frozen=True)
class Letterhead:
    pemerintah: str  # "PEMERINTAH KABUPATEN PAMEKASAN"
    kecamatan: str  # "KECAMATAN PEGANTENAN"
    address: str  # "Jalan Raya Pegantenan, Pamekasan 69361"
    phone: str | None  # "(0324) 7710982"
    city: str  # the place in the date line: "Pegantenan"
    logo_png: bytes | None = None


@dataclass(frozen=True)
class Signer:
    title: str  # "CAMAT PEGANTENAN"
    name: str
    rank: str | None  # "Pembina Tk. I"
    nip: str | None


@dataclass(frozen=True)
class ResponseLetter:
    letterhead: Letterhead
    number: str | None  # None: a draft, printed with a DRAF watermark and "Nomor : ..."
    date: date
    perihal: str
    addressee_name: str
    addressee_address: str | None  # None: "Tempat"
    body: str  # paragraphs separated by blank lines; plain text, never markup
    signer: Signer
    clarification: str | None = None  # further paragraphs after the body (the Kasi/Kasubag's explanation)
    verify_url: str | None = None  # a QR code of it beside the signature block
    sifat: str = "Biasa"
    lampiran: str = "-"
    signature_placeholder: bool = True  # leave room for the digital signature's appearance (pyHanko)


@dataclass(frozen=True)
class Receipt:
    letterhead: Letterhead
    tracking_code: str
    received_at: datetime  # aware; printed in WIB
    channel: str  # a key of shared.contracts.intake.CHANNEL_LABELS
    complainant_name: str
    subject: str
    track_url: str


@dataclass(frozen=True)
class SignatureBox:
    """Where the signature appearance goes, in PDF points (origin bottom left), for pyHanko's
    ``SigFieldSpec(on_page=page_index, box=(x1, y1, x2, y2))``."""

    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (round(self.x1), round(self.y1), round(self.x2), round(self.y2))


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    page_count: int
    signature_box: SignatureBox | None  # None when signature_placeholder is False


def format_waktu_wib(moment: datetime) -> str:
    """``28 November 2026 pukul 08.15 WIB`` (an aware datetime, shown in WIB)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    local = moment.astimezone(WIB)
    return f"{format_tanggal(local.date())} pukul {local.hour:02d}.{local.minute:02d} WIB"
