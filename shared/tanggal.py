"""Dates as Indonesian readers write them: "28 November 2026" (letters, receipts, messages to complainants).

One list of month names for every service (letters and notify had one each)."""

from __future__ import annotations

from datetime import date

BULAN = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


def format_tanggal(d: date) -> str:
    """``28 November 2026``."""
    return f"{d.day} {BULAN[d.month - 1]} {d.year}"
