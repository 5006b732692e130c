"""The SOP as data (a contract every service reads): the 12 steps of Kecamatan Pegantenan's procedure.

This is the default every kecamatan starts from; a kecamatan may override roles and times (its own SK).
Definitions are versioned and a complaint keeps the version it started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["staf", "kasi", "sekcam", "camat"]
Unit = Literal["minutes", "working_days"]

# each role as people are told of it, in full (a message, an error, a page): never the code
ROLE_NAMES: dict[str, str] = {
    "staf": "Staf",
    "kasi": "Kepala Seksi/Kepala Subbagian",
    "sekcam": "Sekretaris Kecamatan",
    "camat": "Camat",
}


def role_name(role: str | None) -> str:
    """``ROLE_NAMES[role]``; an unknown role (a kabupaten user, an admin) as itself, capitalised."""
    return ROLE_NAMES.get(role or "", (role or "pengguna").capitalize())


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
        Step(
            1,
            "Menerima Pengaduan Masyarakat",
            "staf",
            15,
            "minutes",
            ("Form pengaduan", "Komputer/HP"),
            "Form Pengaduan",
        ),
        Step(
            2,
            "Melakukan Verifikasi Identitas Pengadu",
            "kasi",
            3,
            "working_days",
            ("Lembar disposisi", "Bolpoin", "Kertas", "Buku agenda", "Catatan surat masuk"),
            "Kejelasan Identitas Pengadu",
        ),
        Step(
            3,
            "Memberi nomor dan mencatat pengaduan dalam buku rekap pengaduan",
            "staf",
            15,
            "minutes",
            ("Buku Rekap Pengaduan",),
            "Pengaduan tercatat",
        ),
        Step(
            4,
            "Melakukan verifikasi substansi, apakah termasuk tupoksi atau tidak",
            "camat",
            2,
            "working_days",
            KK,
            "Disposisi Tindak Lanjut",
        ),
        Step(
            5, "Melakukan klarifikasi / tanggapan atas pengaduan", "kasi", 2, "working_days", KK, "Penjelasan Kasubag"
        ),
        Step(6, "Meminta staf menyiapkan surat tanggapan", "kasi", 15, "minutes", KK, "Draf surat tanggapan"),
        Step(7, "Menyiapkan surat tanggapan", "staf", 15, "minutes", KK, "Draf surat tanggapan"),
        Step(8, "Memeriksa surat tanggapan", "sekcam", 2, "working_days", KK, "Paraf pada surat tanggapan"),
        Step(9, "Menggandakan surat tanggapan", "staf", 15, "minutes", KK, "Dokumen surat tanggapan"),
        Step(10, "Menandatangani surat tanggapan", "camat", 2, "working_days", KK, "Dokumen surat tanggapan"),
        Step(
            11,
            "Memberi nomor surat, melakukan pengarsipan dan mencatat pada buku rekap pengaduan",
            "staf",
            15,
            "minutes",
            ("Kartu Kendali", "Buku Rekap Pengaduan"),
            "Arsip dokumen surat tanggapan",
        ),
        Step(
            12,
            "Mengirim surat tanggapan pada pengadu",
            "staf",
            15,
            "minutes",
            ("Tanda terima pengiriman",),
            "Pengadu menerima tanggapan",
        ),
    ),
)

DEFINITIONS = {PEGANTENAN_2024.version: PEGANTENAN_2024}
DEFAULT = PEGANTENAN_2024


def with_overrides(base: SopDefinition, overrides: dict[str, Any] | None) -> SopDefinition:
    """A kecamatan's own SK on top of the default: ``{"steps": {"8": {"role": "camat", "standard_time": 3}}}``.

    The result's version names the base and a digest of the overrides, so a complaint that recorded
    both can always rebuild the exact definition it started with.
    """
    if not overrides or not overrides.get("steps"):
        return base
    import hashlib
    import json
    from dataclasses import replace

    steps = list(base.steps)
    for key, change in overrides["steps"].items():
        number = int(key)
        if not 1 <= number <= len(steps):
            raise ValueError(f"SOP override names step {number}; steps are 1-{len(steps)}")
        allowed = {"role", "standard_time", "unit"}
        if set(change) - allowed:
            raise ValueError(f"SOP override of step {number} may change only {sorted(allowed)}")
        if "role" in change and change["role"] not in ("staf", "kasi", "sekcam", "camat"):
            raise ValueError(f"SOP override of step {number}: unknown role {change['role']!r}")
        if "unit" in change and change["unit"] not in ("minutes", "working_days"):
            raise ValueError(f"SOP override of step {number}: unit must be minutes or working_days")
        if "standard_time" in change and (not isinstance(change["standard_time"], int) or change["standard_time"] < 1):
            raise ValueError(f"SOP override of step {number}: standard_time must be a positive whole number")
        steps[number - 1] = replace(steps[number - 1], **change)
    digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:10]
    return replace(base, version=f"{base.version}+{digest}", steps=tuple(steps))


def definition_for(version: str, overrides: dict[str, Any] | None = None) -> SopDefinition:
    """The definition a complaint started with, from what its first event recorded."""
    base = DEFINITIONS[version.split("+", 1)[0]]
    return with_overrides(base, overrides)
