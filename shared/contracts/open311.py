"""Open311 GeoReport v2 as this deployment speaks it, where two services meet: intake takes a posted service
request (``POST /open311/v2/requests``), the dashboard answers the catalogue and the searches (``GET``).
Both must agree on the catalogue, on how a request's category is kept, and on the spec's error shape.

The catalogue is the kabupaten's category list (issue #18 items 2 and 5; shared/contracts/categories.py): a service
is a category (:func:`service`: its code, name, description, group and keywords), a posted request's service is the
complaint's category, and a request reads under its category's name in its kabupaten's list (:func:`named`).
``jurisdiction_id`` is a kecamatan's slug, as in a POST and a search (ADR 0011): its catalogue is its kabupaten's list.
Without one, the catalogue is the list every kecamatan served here shares (one kabupaten, or several on the same
list); where their lists differ, a 400 naming the jurisdictions (:func:`catalogue`, docs/adr/0019).

Requests posted before categories were a field kept their service only in the subject's head (``"Infrastruktur:
Jalan desa rusak"``): the six services Open311 served then, under their names of then (:data:`LEGACY_NAMES`), are
kept for that alone (:func:`service_of`). A posted request's subject still begins with its category's name
(:func:`subject_for`), for staff, and so that its idempotency hash tells two services apart as it always did.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.contracts.categories import DEFAULT, OTHER_CODE, Category, find

__all__ = [
    "FORMATS",
    "FORMAT_PARAMETER",
    "ITEMS",
    "LEGACY_NAMES",
    "MEDIA_TYPES",
    "SUBJECT_MAX",
    "UNKNOWN_JURISDICTION",
    "XML_CONTENT",
    "GeoReportError",
    "Jurisdiction",
    "Problem",
    "Problems",
    "catalogue",
    "defined",
    "format_of",
    "georeport_errors",
    "georeport_xml",
    "named",
    "served_codes",
    "service",
    "service_of",
    "subject_for",
]

SUBJECT_MAX = 200  # intake's subject limit
UNKNOWN_JURISDICTION = "jurisdiction_id tidak dikenal: tidak ada kecamatan dengan slug itu di layanan ini."


# --- the catalogue: a kabupaten's categories ---------------------------------------------------------


@dataclass(frozen=True)
class Jurisdiction:
    """A kecamatan as Open311 names it (``jurisdiction_id``: its slug) and its kabupaten's category list."""

    slug: str
    kabupaten: str  # the kabupaten's slug
    kabupaten_name: str
    categories: tuple[Category, ...]
    active: bool = True  # served: its catalogue is offered when no jurisdiction_id is given


def service(category: Category) -> dict[str, Any]:
    """A category as the spec's service: no attributes of its own (``metadata`` false), answered at once
    (``realtime``: a POST answers the request's id). Keywords: the category's, else its name, for clients that
    search the catalogue by word."""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(category.keywords) or category.name.lower(),
        "group": category.group,
    }


def catalogue(jurisdictions: Sequence[Jurisdiction], jurisdiction_id: str | None) -> tuple[Category, ...]:
    """The services of ``jurisdiction_id`` (a kecamatan's slug): its kabupaten's list; 404 for one not on record.
    Without one: the list every served kecamatan shares (the default list when none is served); 400 naming the
    jurisdictions, by kabupaten, where their lists differ (a union would offer services a kecamatan refuses, and
    one code may name different things in two kabupaten)."""
    wanted = (jurisdiction_id or "").strip().lower()
    if wanted:
        found = next((j for j in jurisdictions if j.slug == wanted), None)
        if found is None:
            raise Problems([Problem(404, UNKNOWN_JURISDICTION)])
        return found.categories
    served = [j for j in jurisdictions if j.active]
    lists = {j.categories for j in served}
    if len(lists) <= 1:
        return next(iter(lists), DEFAULT)
    by_kabupaten: dict[str, list[str]] = {}
    for j in sorted(served, key=lambda j: (j.kabupaten_name, j.slug)):
        by_kabupaten.setdefault(j.kabupaten_name, []).append(j.slug)
    listed = "; ".join(f"{name}: {', '.join(slugs)}" for name, slugs in by_kabupaten.items())
    raise Problems(
        [
            Problem(
                400,
                "jurisdiction_id wajib diisi: kabupaten yang dilayani di sini memiliki daftar kategori yang berbeda. "
                f"Gunakan slug kecamatan (jurisdiction_id) salah satu dari: {listed}.",
            )
        ]
    )


def defined(jurisdictions: Sequence[Jurisdiction], jurisdiction_id: str | None, code: str) -> Category | None:
    """The category ``services/{code}`` asks for: in the list of ``jurisdiction_id`` (404 for one not on record);
    without one, in any list served here. A definition is the same in every list (no attributes), so it needs no
    jurisdiction where the catalogue does."""
    if (jurisdiction_id or "").strip():
        return find(catalogue(jurisdictions, jurisdiction_id), code)
    lists = [j.categories for j in jurisdictions if j.active] or [DEFAULT]
    return next((c for categories in lists if (c := find(categories, code)) is not None), None)


def served_codes(lists: Iterable[Sequence[Category]]) -> frozenset[str]:
    """Every code of these lists: what a search or a POST may name at all."""
    return frozenset(c.code for categories in lists for c in categories)


def named(categories: Sequence[Category], code: str) -> Category:
    """The category a request's code names in its kabupaten's list; a code that list no longer has (a kabupaten
    dropped it after complaints had it) by the default list's name, else by the code itself."""
    return find(categories, code) or find(DEFAULT, code) or Category(code, code)


# --- categories in the subject --------------------------------------------------------------------

# The services Open311 served before categories were a field, by their names of then: a request posted then kept its
# service only in its subject's head ("Infrastruktur: ..."). Only for reading those (service_of); never served.
LEGACY_NAMES: tuple[tuple[str, str], ...] = (
    ("infrastruktur", "Infrastruktur"),
    ("administrasi-kependudukan", "Administrasi kependudukan"),
    ("perizinan", "Perizinan"),
    ("ketertiban-umum", "Ketertiban umum"),
    ("kebersihan-lingkungan", "Kebersihan dan lingkungan"),
    (OTHER_CODE, "Pelayanan publik lainnya"),
)


def subject_for(name: str, description: str) -> str:
    """``"<category's name>: <first line of the description>"``, at most intake's 200 characters."""
    first = next((line for line in description.split("\n") if line.strip()), "")
    summary = re.sub(r"\s+", " ", first).strip()
    subject = f"{name}: {summary}"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject


def service_of(subject: str | None) -> str:
    """The code of an Open311 request posted before categories were a field, read from its subject's head by the
    names of then; the catch-all when it names none of them."""
    for code, name in LEGACY_NAMES:
        if code != OTHER_CODE and (subject or "").startswith(f"{name}:"):
            return code
    return OTHER_CODE


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
