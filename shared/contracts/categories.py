"""Complaint categories (issue #18 item 2): one list per kabupaten, which the citizen may pick from, staff set or
correct at step 3 or 4, and the dashboard, the Buku Rekap, Open311's services and the SP4N-LAPOR! export all use.

The default list is close to the topics SP4N-LAPOR! files complaints under (a kecamatan's share of them: population
administration, infrastructure, health, education, social affairs, public order, licensing, environment, other),
so a complaint can be handed to LAPOR! under its own category name (``lapor``). The names LAPOR! uses are published
to registered agencies only: ``lapor`` is our reading of its public pages, which a kabupaten confirms with its own
LAPOR! administrator and corrects in its settings.

A kabupaten sets its own list in its settings (``pengaduan kabupaten configure <slug> --settings
'{"categories": [...]}'``): each ``{"code", "name", "description"?, "lapor"?, "keywords"?}``; the codes are stable
(they are what events and read models keep: renaming a category keeps its code), ``pelayanan-lainnya`` (the
catch-all) must stay. The codes of the first list (which Open311 served before categories were a field: the subject
began with the name) are kept, so older complaints read the same.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OTHER_CODE = "pelayanan-lainnya"  # every list has it: what a complaint is when nobody chose
UNSET_CODE = "belum-ditetapkan"  # the figures' key for complaints no category was set for: no list may use it
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CATEGORIES = 40


@dataclass(frozen=True)
class Category:
    code: str  # stable: what events and read models keep
    name: str  # as people read it (the form, the Buku Rekap, Open311's service_name)
    description: str = ""
    lapor: str = ""  # the SP4N-LAPOR! category a complaint of it is filed under (see the module's note)
    group: str = "Lainnya"
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "lapor": self.lapor,
            "group": self.group,
            "keywords": list(self.keywords),
        }


DEFAULT: tuple[Category, ...] = (
    Category(
        "administrasi-kependudukan",
        "Administrasi kependudukan",
        "Layanan KTP-el, Kartu Keluarga, akta, surat pindah dan dokumen kependudukan lain di kecamatan.",
        "Administrasi Kependudukan",
        "Pelayanan administrasi",
        ("ktp", "kartu keluarga", "akta", "surat pindah", "dukcapil"),
    ),
    Category(
        "infrastruktur",
        "Infrastruktur",
        "Jalan, jembatan, saluran air, lampu penerangan jalan dan fasilitas umum yang rusak atau tidak berfungsi.",
        "Infrastruktur",
        "Sarana dan prasarana",
        ("jalan", "jembatan", "drainase", "saluran air", "lampu jalan", "fasilitas umum"),
    ),
    Category(
        "kesehatan",
        "Kesehatan",
        "Puskesmas, posyandu, pelayanan kesehatan, BPJS Kesehatan, gizi dan sanitasi.",
        "Kesehatan",
        "Pelayanan dasar",
        ("puskesmas", "posyandu", "bpjs", "gizi", "sanitasi"),
    ),
    Category(
        "pendidikan",
        "Pendidikan",
        "Sekolah, PAUD, bantuan pendidikan, guru dan sarana belajar.",
        "Pendidikan",
        "Pelayanan dasar",
        ("sekolah", "paud", "guru", "beasiswa", "pip"),
    ),
    Category(
        "sosial",
        "Sosial",
        "Bantuan sosial (PKH, BPNT, BLT), data kesejahteraan sosial (DTKS), penyandang disabilitas, lansia.",
        "Sosial",
        "Pelayanan dasar",
        ("bansos", "pkh", "bpnt", "blt", "dtks", "disabilitas", "lansia"),
    ),
    Category(
        "ketertiban-umum",
        "Ketenteraman dan ketertiban",
        "Gangguan ketenteraman dan ketertiban masyarakat, pedagang kaki lima, bangunan liar.",
        "Ketenteraman, Ketertiban Umum, dan Perlindungan Masyarakat",
        "Lingkungan dan ketertiban",
        ("keamanan", "ketertiban", "kebisingan", "pedagang kaki lima", "bangunan liar"),
    ),
    Category(
        "perizinan",
        "Pelayanan perizinan",
        "Izin, surat keterangan, rekomendasi dan layanan nonperizinan yang diurus di kecamatan.",
        "Perizinan",
        "Pelayanan administrasi",
        ("izin", "surat keterangan", "rekomendasi", "nonperizinan"),
    ),
    Category(
        "kebersihan-lingkungan",
        "Kebersihan dan lingkungan",
        "Sampah, pencemaran, banjir, pohon tumbang dan kerusakan lingkungan hidup.",
        "Lingkungan Hidup dan Kehutanan",
        "Lingkungan dan ketertiban",
        ("sampah", "pencemaran", "banjir", "pohon tumbang", "lingkungan"),
    ),
    Category(
        OTHER_CODE,
        "Lainnya",
        "Keluhan atas pelayanan publik di kecamatan yang tidak termasuk kategori lain: sikap petugas, waktu layanan, "
        "biaya, informasi.",
        "Lainnya",
        "Lainnya",
        ("pelayanan", "petugas", "biaya", "informasi"),
    ),
)


def categories_of(kabupaten_settings: Mapping[str, Any]) -> tuple[Category, ...]:
    """A kabupaten's list: its settings' ``categories`` (checked when stored: ``parse``), else the default."""
    given = kabupaten_settings.get("categories")
    return parse(given) if given else DEFAULT


def find(categories: Sequence[Category], code: str | None) -> Category | None:
    return next((c for c in categories if c.code == code), None) if code else None


def parse(value: Any) -> tuple[Category, ...]:
    """A kabupaten's ``categories`` setting as categories; ValueError (its message for the operator) when it is not
    a list of 1-40 objects with a unique, slug-shaped ``code`` and a ``name``, including ``pelayanan-lainnya``."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CATEGORIES:
        raise ValueError(f"categories: a list of 1 to {MAX_CATEGORIES} objects {{code, name, ...}}")
    found: list[Category] = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"code", "name", "description", "lapor", "group", "keywords"}:
            raise ValueError(
                "categories: each item is {code, name, description?, lapor?, group?, keywords?}, nothing else"
            )
        code, name = item.get("code"), item.get("name")
        if not isinstance(code, str) or not CODE.match(code) or len(code) > 40:
            raise ValueError(f"categories: code {code!r} must be lower-case words joined by '-' (at most 40)")
        if code == UNSET_CODE:
            raise ValueError(f"categories: {UNSET_CODE!r} is what the figures call a complaint without a category")
        if not isinstance(name, str) or not 2 <= len(name.strip()) <= 80 or "\n" in name:
            raise ValueError(f"categories: {code}: name must be one line of 2 to 80 characters")
        texts = {k: item.get(k, "") for k in ("description", "lapor", "group")}
        if not all(isinstance(t, str) and len(t) <= 300 for t in texts.values()):
            raise ValueError(f"categories: {code}: description, lapor and group are text (at most 300)")
        keywords = item.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ValueError(f"categories: {code}: keywords is a list of words")
        found.append(
            Category(
                code,
                name.strip(),
                texts["description"],
                texts["lapor"],
                texts["group"] or "Lainnya",
                tuple(keywords),
            )
        )
    codes = [c.code for c in found]
    if len(set(codes)) != len(codes):
        raise ValueError("categories: each code once")
    if OTHER_CODE not in codes:
        raise ValueError(f"categories: the list must keep {OTHER_CODE!r} (what a complaint is when nobody chose)")
    return tuple(found)
