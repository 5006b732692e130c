"""The period's complaints as SP4N-LAPOR!'s administrators import them (issue #18 item 6, docs/adr/0023): one line
per complaint, the category by its LAPOR! name. Pure.

The columns are ASSUMED (LAPOR!'s import template is given to registered agencies only; a kabupaten confirms them
with its LAPOR! administrator: README, "SP4N-LAPOR!"). ``ID Laporan Instansi`` is the complaint's id, the reference
the bridge gives LAPOR! when it acknowledges a report, so a complaint that came from LAPOR! is recognised there; such
complaints are left out unless asked for (LAPOR! has them, and the bridge reports their follow-ups). The complainant
appears by name only, as the Buku Rekap's export shows it (masked for readers who do not see personal data and for
a pelapor rahasia); never the NIK, phone, e-mail, address or the tracking code (which opens the receipt)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from services.dashboard.domain.register import OUTCOME_LABELS
from shared import masking
from shared.contracts import categories as category_lists
from shared.contracts.intake import CHANNEL_LABELS

COLUMNS: tuple[tuple[str, int], ...] = (
    ("No", 6),
    ("ID Laporan Instansi", 38),
    ("Tanggal Laporan", 17),
    ("Judul Laporan", 40),
    ("Kategori", 28),
    ("Instansi", 30),
    ("Sumber", 18),
    ("Nama Pelapor", 26),
    ("Status", 10),
    ("Tanggal Selesai", 17),
    ("Hasil", 28),
    ("Nomor Surat Tanggapan", 28),
    ("Dilimpahkan Kepada", 30),
)
DATE_COLUMNS = (2, 9)  # 0-based: Tanggal Laporan, Tanggal Selesai

# LAPOR!'s own words for where a report stands (ASSUMED: "Proses", "Selesai" as its public pages show them)
STATUS_OPEN, STATUS_CLOSED = "Proses", "Selesai"


def lapor_category(code: str | None, categories: Sequence[category_lists.Category]) -> str:
    """The LAPOR! name of a complaint's category in its kabupaten's list; none set (or none with a LAPOR! name):
    the catch-all's (LAPOR! files every report under some category)."""
    found = category_lists.find(categories, code) if code else None
    if found is not None and found.lapor:
        return found.lapor
    other = category_lists.find(categories, category_lists.OTHER_CODE)
    return other.lapor if other is not None and other.lapor else "Lainnya"


def line(
    number: int,
    row: dict[str, Any],
    masked: bool,
    tz: tzinfo,
    instansi: str,
    categories: Sequence[category_lists.Category],
) -> list[Any]:
    """One complaint as a line of ``COLUMNS``; dates naive in the office's time zone (spreadsheets keep them
    dates)."""
    shown = masking.complaint_row(row, masked)
    closed = row.get("status") == "closed"
    return [
        number,
        str(row["complaint_id"]),
        _local(row["received_at"], tz),
        shown.get("subject") or "",  # as the Buku Rekap's export shows it: withheld where it is masked
        lapor_category(row.get("category"), categories),
        instansi,
        CHANNEL_LABELS.get(row["channel"], row["channel"]),
        shown.get("complainant_name") or "",
        STATUS_CLOSED if closed else STATUS_OPEN,
        _local(row.get("closed_at"), tz) if closed else None,
        OUTCOME_LABELS.get(row.get("outcome") or "", "") if closed else "",
        row.get("letter_number") or "",
        row.get("referred_to") or "",
    ]


def _local(value: datetime | None, tz: tzinfo) -> datetime | None:
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None
