"""Open311 GeoReport v2 as this deployment speaks it, where two services meet: intake takes a posted service
request (``POST /open311/v2/requests``), the dashboard answers the catalogue and the searches (``GET``).
Both must agree on the catalogue, on how a request's category is kept, and on the spec's error shape.

Categories. A complaint has a category of its own (issue #18 item 2, shared/contracts/categories.py): a posted
request's service is its category. Intake still writes the service's name at the start of the subject
(``"Infrastruktur: Jalan desa rusak"``, :func:`subject_for`), and the dashboard reads an Open311 request filed before
categories were a field back from it (:func:`service_of`); any other complaint without a category is
``pelayanan-lainnya``. The catalogue here is the six services Open311 has served; the kabupaten's category lists
(which add kesehatan, pendidikan, sosial and a kabupaten's own) are not yet served as Open311 services.

Errors are ``[{"code": <HTTP status>, "description": "..."}]`` with the description in Bahasa Indonesia
(:class:`Problems`, documented as a list of :class:`GeoReportError`).

Formats. Every endpoint answers JSON or the spec's XML by its path's suffix (``.json``, ``.xml``; none: JSON):
:func:`georeport_xml` writes a document under the spec's element names (``service_requests/request``,
``services/service``, ``errors/error``, ``discovery``), :data:`FORMAT_PARAMETER` documents the suffix.

Pure: no I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = [
    "BY_CODE",
    "FORMATS",
    "FORMAT_PARAMETER",
    "ITEMS",
    "MEDIA_TYPES",
    "OTHER",
    "SERVICES",
    "SUBJECT_MAX",
    "XML_CONTENT",
    "GeoReportError",
    "Problem",
    "Problems",
    "Service",
    "format_of",
    "georeport_errors",
    "georeport_xml",
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
    """OpenAPI ``responses`` for the given statuses, each a list of :class:`GeoReportError` (in XML: ``errors``)."""
    return {code: {"model": list[GeoReportError], "content": XML_CONTENT} for code in codes}


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


# --- formats: JSON, and the spec's XML --------------------------------------------------------------

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
XML_CONTENT: dict[str, Any] = {"text/xml": {"schema": {"type": "string", "description": "The same, in the spec's XML"}}}
FORMAT_PARAMETER: dict[str, Any] = {
    "name": "format",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": list(FORMATS)},
    "description": "`json` or `xml` (the spec's elements); without the suffix the answer is JSON",
}
# the element of each item of a list, by the list's own element (as the spec's sample documents have them)
ITEMS = {
    "service_requests": "request",
    "services": "service",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# what XML 1.0 cannot carry at all (C0 controls but tab and line ends, surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def format_of(path: str) -> str | None:
    """``json`` or ``xml`` by the path's suffix, ``json`` without one, None for another suffix."""
    last = path.rsplit("/", 1)[-1]
    if "." not in last:
        return "json"
    suffix = last.rsplit(".", 1)[1]
    return suffix if suffix in FORMATS else None


def georeport_xml(root: str, document: list[Any] | dict[str, Any]) -> bytes:
    """``document`` (what the JSON answer would be) as the spec's XML under ``root``: a list's items are
    elements named by :data:`ITEMS` (``service_requests`` holds ``request``), a dict's keys are elements, None
    is an empty element, booleans are ``true``/``false``. UTF-8 with its declaration."""
    element = ET.Element(root)
    _fill(element, document)
    written: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return written


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list | tuple):
        for item in value:
            _fill(ET.SubElement(element, ITEMS[element.tag]), item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = value.isoformat()
    else:
        element.text = _NOT_XML.sub("", str(value))
