"""Open311 GeoReport v2 searches as this deployment answers them: reading the filters of a search and the
public shape of a request. The catalogue (each kabupaten's category list), the category kept in the subject and the
error shape are shared with intake, which takes the posted requests: ``shared/contracts/open311.py``.

Pure: no I/O; the clock comes in as an argument. Problems are ``Problem(status, description)`` with the
description in Bahasa Indonesia; the API answers them in the spec's error shape ``[{code, description}]``.

Identifiers (docs/adr/0018-open311-ids-and-formats.md). A request has one id, its complaint id, in every
answer: ``POST`` (intake) answers it as ``service_request_id``, searches list it, ``GET /requests/{id}`` shows
it. The tracking code is what the complainant holds, and it opens their receipt and response letter (which
carry their name), so it is never shown here: the POST gives it to the poster alone, as the spec's ``token``.
Whoever holds it may still ask by it (``GET /requests/{code}``, ``service_request_id=<code>``, ``GET
/tokens/{code}``), and is answered under the complaint id. Reads find a request once the workflow has
recorded it (they come from the dashboard's projection of the event store).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.contracts import sop
from shared.contracts.categories import Category, find
from shared.contracts.open311 import UNKNOWN_JURISDICTION, Jurisdiction, Problem, Problems, named, served_codes
from shared.contracts.tracking import normalize_tracking_code
from shared.tanggal import format_tanggal

WIB = timezone(timedelta(hours=7), "WIB")
DEFAULT_TIME_ZONE = "Asia/Jakarta"  # a kabupaten's without a setting (shared.tenancy's; no database library here)
MAX_SEARCH_DAYS = 90  # the spec's default window, and the widest one a search may ask for
# dates a search may name: far enough from the calendar's edges (years 1 and 9999) that a time zone or the
# 90-day window never leaves it
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MAX_RESULTS = 1000
MAX_IDS = 100


# --- GET /requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    """What a search asks for. With ids, every other filter is ignored (as the spec says)."""

    tracking_codes: tuple[str, ...] = ()
    complaint_ids: tuple[UUID, ...] = ()
    statuses: frozenset[str] = frozenset()  # open | closed; empty: both
    start: datetime | None = None
    end: datetime | None = None
    kecamatan: str | None = None
    services: tuple[Category, ...] = ()  # empty: all
    limit: int = MAX_RESULTS
    by_id: bool = False


def _when(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
        value = value if value.tzinfo else value.replace(tzinfo=WIB)
        within = EARLIEST <= value < LATEST
    except (ValueError, OverflowError):
        message = f"{name} harus berupa tanggal/waktu ISO 8601 (misalnya 2026-11-30T08:00:00+07:00)."
        raise Problems([Problem(400, message)]) from None
    if not within:
        raise Problems([Problem(400, f"{name} harus di antara tahun {EARLIEST.year} dan {LATEST.year - 1}.")])
    return value


def read_ids(raw: str) -> tuple[tuple[str, ...], tuple[UUID, ...]]:
    """Tracking codes and public ids (complaint ids) from a comma list; what is neither cannot match."""
    codes: list[str] = []
    ids: list[UUID] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        part = part.removesuffix(".json")
        try:
            ids.append(UUID(part))
            continue
        except ValueError:
            pass
        code = normalize_tracking_code(part)
        if code:
            codes.append(code)
    return tuple(dict.fromkeys(codes)), tuple(dict.fromkeys(ids))


def read_query(params: Mapping[str, str], now: datetime, jurisdictions: Sequence[Jurisdiction]) -> RequestQuery:
    """The filters of ``GET /requests``; raises ``Problems`` (400; then 404 for a ``jurisdiction_id`` not on
    record). ``service_code`` is any code of the named kecamatan's kabupaten's list, or without one of any list
    served here (``jurisdictions``: every kecamatan on record, with its kabupaten's list)."""
    raw_ids = (params.get("service_request_id") or "").strip()
    if raw_ids:
        if raw_ids.count(",") >= MAX_IDS:
            raise Problems([Problem(400, f"service_request_id paling banyak {MAX_IDS} sekaligus.")])
        codes, ids = read_ids(raw_ids)
        return RequestQuery(tracking_codes=codes, complaint_ids=ids, by_id=True)
    problems: list[Problem] = []
    statuses = {s.strip().lower() for s in (params.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        problems.append(Problem(400, "status harus open atau closed (boleh keduanya, dipisah koma)."))
    kecamatan = (params.get("jurisdiction_id") or "").strip().lower() or None
    if kecamatan is not None and not re.fullmatch(r"[a-z0-9-]{2,40}", kecamatan):
        problems.append(Problem(400, "jurisdiction_id tidak sah: gunakan slug kecamatan (misalnya pegantenan)."))
    place = next((j for j in jurisdictions if j.slug == kecamatan), None)
    lists = [place.categories] if place else [j.categories for j in jurisdictions]
    known = served_codes(lists)
    services: list[Category] = []
    for code in (c.strip() for c in (params.get("service_code") or "").split(",")):
        if code and code not in known:
            where = f"services.json?jurisdiction_id={place.slug}" if place else "services.json"
            problems.append(Problem(400, f"service_code {code[:40]!r} tidak dikenal (lihat daftar di {where})."))
        elif code:
            services.append(next(c for categories in lists if (c := find(categories, code)) is not None))
    start: datetime | None = None
    end: datetime | None = None
    try:
        if (params.get("start_date") or "").strip():
            start = _when(params["start_date"].strip(), "start_date")
        if (params.get("end_date") or "").strip():
            end = _when(params["end_date"].strip(), "end_date")
    except Problems as exc:
        problems.extend(exc.problems)
    if problems:
        raise Problems(problems)
    if kecamatan is not None and place is None:
        raise Problems([Problem(404, UNKNOWN_JURISDICTION)])
    window = timedelta(days=MAX_SEARCH_DAYS)
    if start is None:  # neither given: the window up to now; only the end: the window up to it
        end = now if end is None else end
        start = end - window
    elif end is None:
        end = start + window
    if end < start:
        raise Problems([Problem(400, "end_date tidak boleh sebelum start_date.")])
    if end - start > window:
        raise Problems([Problem(400, f"Rentang start_date sampai end_date paling lama {MAX_SEARCH_DAYS} hari.")])
    return RequestQuery(
        statuses=frozenset(statuses),
        start=start,
        end=end,
        kecamatan=kecamatan,
        services=tuple(dict.fromkeys(services)),
    )


# --- the public shape -----------------------------------------------------------------------------

CLOSED_NOTES = {
    "resolved": "Selesai: surat tanggapan sudah dikirim kepada pengadu.",
    "referred": "Dilimpahkan kepada instansi yang berwenang.",
    "identity_rejected": "Ditutup: identitas pengadu tidak dapat diverifikasi.",
    "incomplete": "Ditutup: kelengkapan identitas tidak diterima.",
    "withdrawn": "Ditutup: dicabut oleh pengadu.",
    "duplicate": "Ditutup: sama dengan pengaduan lain yang sudah tercatat.",
}


@dataclass(frozen=True)
class RequestRow:
    """What the query gives of one complaint (none of it personal)."""

    complaint_id: UUID
    tracking_code: str
    kecamatan: str
    kecamatan_name: str
    kabupaten_name: str
    service_code: str  # the complaint's category (an Open311 request of before: read from its subject)
    received_at: datetime
    status: str  # as the workflow has it: in_progress | awaiting_documents | referred | closed
    outcome: str | None
    current_step: int | None
    deadline_at: datetime | None
    updated_at: datetime
    referred_to: str | None
    sop_version: str | None
    # a referral followed until the receiving office answers (services/dashboard/domain/service_requests.py)
    referral_state: str | None = None  # followed | answered | lapsed | ended | unfollowed
    follow_up_by: datetime | None = None
    referral_answered_on: date | None = None
    time_zone: str | None = None  # the kabupaten's, for the dates in status_notes


def _tanggal(value: datetime, row: RequestRow) -> str:
    return format_tanggal(value.astimezone(ZoneInfo(row.time_zone or DEFAULT_TIME_ZONE)).date())


def _referral_notes(row: RequestRow) -> str | None:
    """Where a referral stands. Not the receiving office's answer itself: it is addressed to the complainant and
    may name them, and these reads are public (the complainant reads it on the tracking page, by their code)."""
    agency = row.referred_to or "instansi yang berwenang"
    until = f" sampai {_tanggal(row.follow_up_by, row)}" if row.follow_up_by else ""
    if row.status == "referred":
        return f"Dilimpahkan kepada {agency}; kecamatan memantau{until}."
    if row.outcome != "referred":
        return None
    if row.referral_state == "answered":
        on = f" pada {format_tanggal(row.referral_answered_on)}" if row.referral_answered_on else ""
        return f"Dilimpahkan kepada {agency}; instansi penerima telah menanggapi{on}."
    if row.referral_state == "lapsed":
        return f"Dilimpahkan kepada {agency}; belum ada tanggapan{until}, kecamatan tidak lagi memantau."
    return f"Dilimpahkan kepada {agency}." if row.referred_to else None


def status_notes(row: RequestRow) -> str:
    referral = _referral_notes(row)
    if referral is not None:
        return referral
    if row.status == "closed":
        return CLOSED_NOTES.get(row.outcome or "", "Selesai.")
    if row.status == "awaiting_documents":
        return "Menunggu kelengkapan dokumen identitas dari pengadu."
    if row.current_step is not None:
        try:
            name = sop.definition_for(row.sop_version or sop.DEFAULT.version).step(row.current_step).name
        except (KeyError, IndexError):
            return f"Sedang diproses (langkah {row.current_step} dari 12)."
        return f"Sedang diproses: langkah {row.current_step} dari 12, {name}."
    return "Sedang diproses."


def _iso(value: datetime | None) -> str | None:
    """In UTC, whatever zone the value was read in (a time from an event's JSON keeps the kabupaten's offset, one
    from a timestamptz column comes back in UTC): one instant, one spelling."""
    return value.astimezone(UTC).isoformat() if value else None


def as_georeport(row: RequestRow, categories: Sequence[Category]) -> dict[str, Any]:
    """One service request as GeoReport v2 shows it, under its one id (the complaint id); kecamatan-level place,
    no personal data, never the tracking code. Its service is its category, named as ``categories`` (its
    kabupaten's list) names it."""
    service = named(categories, row.service_code)
    kecamatan = f"Kecamatan {row.kecamatan_name}"
    referred = row.referred_to if row.status == "referred" or row.outcome == "referred" else None
    # while a referral is followed, the answer is expected by the follow-up time (the 12-day promise was kept: the
    # kecamatan's part ended when it referred)
    expected = row.follow_up_by if row.status == "referred" and row.follow_up_by else row.deadline_at
    return {
        "service_request_id": str(row.complaint_id),
        "status": "closed" if row.status == "closed" else "open",
        "status_notes": status_notes(row),
        "service_name": service.name,
        "service_code": service.code,
        "description": f"{service.name} di {kecamatan}",
        "agency_responsible": referred or kecamatan,
        "service_notice": None,
        "requested_datetime": _iso(row.received_at),
        "updated_datetime": _iso(row.updated_at),
        "expected_datetime": _iso(expected),
        "address": f"{kecamatan}, {row.kabupaten_name}",
        "jurisdiction_id": row.kecamatan,
    }


def as_token(row: RequestRow) -> dict[str, Any]:
    """``GET /tokens/{token}``: the request's id for the one who holds its token (the tracking code)."""
    return {"service_request_id": str(row.complaint_id), "token": row.tracking_code}


# --- the catalogue's other documents ---------------------------------------------------------------


def service_definition(service: Category) -> dict[str, Any]:
    """``GET /services/{code}``: no service asks for attributes of its own (``metadata`` is false for every one),
    so a definition is the code with an empty list, for the clients that ask anyway."""
    return {"service_code": service.code, "attributes": []}


SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-04T00:00:00+00:00"  # when this endpoint last changed (issue #18: the kabupaten's categories)


def discovery(base_url: str, production: bool) -> dict[str, Any]:
    """The spec's service discovery document: this deployment's one GeoReport v2 endpoint and its formats."""
    base = base_url.rstrip("/")
    return {
        "changeset": CHANGESET,
        "contact": f"Pengelola layanan pengaduan kecamatan di {base}/ (pertanyaan tentang API ini).",
        "key_service": "api_key untuk mengirim permintaan layanan (POST) diberikan oleh pengelola layanan ini; "
        "membaca tidak memerlukan api_key.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base}/open311/v2",
                "changeset": CHANGESET,
                "type": "production" if production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
