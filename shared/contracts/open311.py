"""Open311 GeoReport v2 as this deployment speaks it, where two services meet: intake takes a posted service
request (``POST /open311/v2/requests``), the dashboard answers the catalogue and the searches (``GET``).
Both must agree on the catalogue, on how a request's category is kept, and on the spec's error shape.

Categories. A complaint carries no category of its own yet: intake writes the service's name at the start of
the subject (``"Infrastruktur: Jalan desa rusak"``, :func:`subject_for`) and the dashboard reads it back from
the subject the workflow's ``ComplaintReceived`` carries (:func:`service_of`); any other complaint is
``pelayanan-lainnya``. Renaming a service would reclassify the complaints filed under its old name.

Errors are ``[{"code": <HTTP status>, "description": "..."}]`` with the description in Bahasa Indonesia
(:class:`Problems`, documented as a list of :class:`GeoReportError`).

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = [
    "BY_CODE",
    "OTHER",
    "SERVICES",
    "SUBJECT_MAX",
    "GeoReportError",
    "Problem",
    "Problems",
    "Service",
    "georeport_errors",
    "service_of",
    "subject_for",
    "subject_prefix",
]

SUBJECT_MAX = 200  # intake's subject limit


@dataclass(frozen=True)
class Service:
    """One complaint category, shown as a GeoReport service."""

    code: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...]

    def as_georeport(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(self.keywords),
            "group": self.group,
        }


SERVICES: tuple[Service, ...] = (
    Service(
        "infrastruktur",
        "Infrastruktur",
        "Jalan, jembatan, saluran air, lampu penerangan jalan dan fasilitas umum yang rusak atau tidak berfungsi.",
        "Sarana dan prasarana",
        ("jalan", "jembatan", "drainase", "saluran air", "lampu jalan", "fasilitas umum"),
    ),
    Service(
        "administrasi-kependudukan",
        "Administrasi kependudukan",
        "Layanan KTP-el, Kartu Keluarga, akta, surat pindah dan dokumen kependudukan lain di kecamatan.",
        "Pelayanan administrasi",
        ("ktp", "kartu keluarga", "akta", "surat pindah", "dukcapil"),
    ),
    Service(
        "perizinan",
        "Perizinan",
        "Izin, surat keterangan, rekomendasi dan layanan nonperizinan yang diurus di kecamatan.",
        "Pelayanan administrasi",
        ("izin", "surat keterangan", "rekomendasi", "nonperizinan"),
    ),
    Service(
        "ketertiban-umum",
        "Ketertiban umum",
        "Gangguan ketenteraman dan ketertiban masyarakat, pedagang kaki lima, bangunan liar.",
        "Lingkungan dan ketertiban",
        ("keamanan", "ketertiban", "kebisingan", "pedagang kaki lima", "bangunan liar"),
    ),
    Service(
        "kebersihan-lingkungan",
        "Kebersihan dan lingkungan",
        "Sampah, pencemaran, banjir, pohon tumbang dan kerusakan lingkungan hidup.",
        "Lingkungan dan ketertiban",
        ("sampah", "pencemaran", "banjir", "pohon tumbang", "lingkungan"),
    ),
    Service(
        "pelayanan-lainnya",
        "Pelayanan publik lainnya",
        "Keluhan atas pelayanan publik di kecamatan yang tidak termasuk kategori lain: sikap petugas, waktu "
        "layanan, biaya, informasi.",
        "Lainnya",
        ("pelayanan", "petugas", "biaya", "informasi"),
    ),
)
BY_CODE: dict[str, Service] = {s.code: s for s in SERVICES}
OTHER: Service = BY_CODE["pelayanan-lainnya"]


# --- categories in the subject --------------------------------------------------------------------


def subject_for(service: Service, description: str) -> str:
    """``"<service name>: <first line of the description>"``, at most intake's 200 characters."""
    first = next((line for line in description.split("\n") if line.strip()), "")
    summary = re.sub(r"\s+", " ", first).strip()
    subject = f"{service.name}: {summary}"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject


def subject_prefix(service: Service) -> str:
    return f"{service.name}:"


def service_of(subject: str | None) -> Service:
    for service in SERVICES:
        if service is not OTHER and (subject or "").startswith(subject_prefix(service)):
            return service
    return OTHER


# --- the spec's error shape -----------------------------------------------------------------------


class GeoReportError(BaseModel):
    code: int
    description: str


def georeport_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given statuses, each a list of :class:`GeoReportError`."""
    return {code: {"model": list[GeoReportError]} for code in codes}


@dataclass(frozen=True)
class Problem:
    status: int
    description: str

    def as_georeport(self) -> dict[str, Any]:
        return {"code": self.status, "description": self.description}


class Problems(Exception):
    """One or more problems with a request; all of one status (the first problem's)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].description)
        self.problems = problems
        self.status = problems[0].status

    def as_georeport(self) -> list[dict[str, Any]]:
        return [p.as_georeport() for p in self.problems]
