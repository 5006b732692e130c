"""The SOP as data (a contract every service reads): the 12 steps of Kecamatan Pegantenan's procedure.

This is the default every kecamatan starts from; a kecamatan may override roles and times (its own SK).
Definitions are versioned and a complaint keeps the version it started with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["staf", "kasi", "sekcam", "camat"]
Unit = Literal["minutes", "working_days"]


@dataclass(frozen=True)
class Step:
    number: int
    name: str  # the SOP's own words
    role: Role
    standard_time: int
    unit: Unit
    instruments: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class SopDefinition:
    version: str
    steps: tuple[Step, ...]
    completion_working_days: int = 12

    def step(self, number: int) -> Step:
        return self.steps[number - 1]


KK = ("Kartu Kendali",)

PEGANTENAN_2024 = SopDefinition(
    version="pegantenan-1",
    steps=(
        Step(1, "Menerima Pengaduan Masyarakat", "staf", 15, "minutes",
             ("Form pengaduan", "Komputer/HP"), "Form Pengaduan"),
        Step(2, "Melakukan Verifikasi Identitas Pengadu", "kasi", 3, "working_days",
             ("Lembar disposisi", "Bolpoin", "Kertas", "Buku agenda", "Catatan surat masuk"),
             "Kejelasan Identitas Pengadu"),
        Step(3, "Memberi nomor dan mencatat pengaduan dalam buku rekap pengaduan", "staf", 15, "minutes",
             ("Buku Rekap Pengaduan",), "Pengaduan tercatat"),
        Step(4, "Melakukan verifikasi substansi, apakah termasuk tupoksi atau tidak", "camat", 2, "working_days",
             KK, "Disposisi Tindak Lanjut"),
        Step(5, "Melakukan klarifikasi / tanggapan atas pengaduan", "kasi", 2, "working_days",
             KK, "Penjelasan Kasubag"),
        Step(6, "Meminta staf menyiapkan surat tanggapan", "kasi", 15, "minutes", KK, "Draf surat tanggapan"),
        Step(7, "Menyiapkan surat tanggapan", "staf", 15, "minutes", KK, "Draf surat tanggapan"),
        Step(8, "Memeriksa surat tanggapan", "sekcam", 2, "working_days", KK, "Paraf pada surat tanggapan"),
        Step(9, "Menggandakan surat tanggapan", "staf", 15, "minutes", KK, "Dokumen surat tanggapan"),
        Step(10, "Menandatangani surat tanggapan", "camat", 2, "working_days", KK, "Dokumen surat tanggapan"),
        Step(11, "Memberi nomor surat, melakukan pengarsipan dan mencatat pada buku rekap pengaduan", "staf", 15,
             "minutes", ("Kartu Kendali", "Buku Rekap Pengaduan"), "Arsip dokumen surat tanggapan"),
        Step(12, "Mengirim surat tanggapan pada pengadu", "staf", 15, "minutes",
             ("Tanda terima pengiriman",), "Pengadu menerima tanggapan"),
    ),
)

DEFINITIONS = {PEGANTENAN_2024.version: PEGANTENAN_2024}
DEFAULT = PEGANTENAN_2024
