"""SP4N-LAPOR!'s integration API as this bridge reads and writes it: every path, header, field name and status
word, in this one module. The API's documentation is given to registered developers only (its admin pages, role
"developer"); what is here is built on what is publicly described and otherwise ASSUMED. Each assumption is marked
``ASSUMED`` and listed in docs/adr/0023-lapor-bridge.md and the README ("SP4N-LAPOR!"): a kabupaten confirms each
with its own credentials and corrects this module (only this module) where LAPOR! differs.

Publicly described (the legacy public "API Akses Data LAPOR!", lapor.go.id's integration page):
- JSON over HTTPS, an access token issued by the LAPOR! team to each agency (the legacy API named it ``KEYTOKEN``);
- every report has a numeric "Tracking ID", unique, shown to the complainant (``https://www.lapor.go.id/pengaduan/
  <TrackingID>``);
- LAPOR! verifies a report, disposes it to an instansi (K/L/D), the instansi answers with follow-ups
  ("tindak lanjut"), and the report is closed ("selesai") once answered;
- reports carry a topic/category (``topic_name``) and may be anonymous or confidential ("rahasia").

ASSUMED (the shapes below): the paths, the bearer token header, the cursor paging of dispositions, the field names
of a report and of a follow-up, the acknowledgement call, and that LAPOR! honours an ``Idempotency-Key`` header on
follow-ups (a retry after a lost answer adds no second follow-up).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.lapor.domain.model import FollowUp, LaporAttachment, LaporReport, ReportPage

API_PREFIX = "/api/v1"  # ASSUMED
AUTH_HEADER = "Authorization"  # ASSUMED: "Bearer <token>" (the legacy API took KEYTOKEN as a parameter)
IDEMPOTENCY_HEADER = "Idempotency-Key"  # ASSUMED: honoured on follow-ups
PAGE_SIZE = 50  # ASSUMED: LAPOR!'s page size limit


class MappingError(ValueError):
    """An answer of LAPOR! that does not have the shape this module expects (it changed, or we guessed wrong)."""


def auth_headers(token: str) -> dict[str, str]:
    return {AUTH_HEADER: f"Bearer {token}", "Accept": "application/json"}


# --------------------------------------------------------------------------- inbound: dispositions


def dispositions_path(instansi_id: str) -> str:
    """``GET`` the reports disposed to an instansi (ASSUMED)."""
    return f"{API_PREFIX}/instansi/{quote(instansi_id, safe='')}/disposisi"


def dispositions_params(cursor: str | None, limit: int = PAGE_SIZE) -> dict[str, str]:
    """``since``: the cursor the previous page gave (absent: from the first disposition); ``limit`` (ASSUMED)."""
    params = {"limit": str(limit)}
    if cursor:
        params["since"] = cursor
    return params


def parse_dispositions(body: Any, instansi_id: str) -> ReportPage:
    """``{"status": "success", "data": [<report>...], "meta": {"next_cursor", "has_more"}}`` (ASSUMED)."""
    data = _object(body, "the answer")
    if data.get("status") != "success":
        raise MappingError(f"dispositions: status {data.get('status')!r}, not 'success'")
    items = data.get("data")
    if not isinstance(items, list):
        raise MappingError("dispositions: data is not a list")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise MappingError("dispositions: meta is not an object")
    cursor = meta.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str | int):
        raise MappingError("dispositions: next_cursor is neither text nor a number")
    reports, unreadable = [], []
    for item in items:
        try:
            reports.append(parse_report(item, instansi_id))
        except MappingError as exc:
            unreadable.append((_stand_in_id(item), str(exc)[:500]))
    return ReportPage(
        reports=tuple(reports),
        next_cursor=None if cursor is None else str(cursor),
        more=bool(meta.get("has_more")),
        unreadable=tuple(unreadable),
    )


TRACKING_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # what intake's Idempotency-Key lapor:<id> can carry
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NUL and the like: no text of a person holds them


def _stand_in_id(item: Any) -> str:
    """The id an unreadable report is kept under: its own when usable, else one derived from what came."""
    raw = item.get("tracking_id") if isinstance(item, dict) else None
    if isinstance(raw, str | int) and not isinstance(raw, bool) and TRACKING_ID.match(str(raw).strip()):
        return str(raw).strip()
    digest = hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"tidak-terbaca-{digest}"


def parse_report(item: Any, instansi_id: str) -> LaporReport:
    """One report (ASSUMED field names): ``tracking_id``, ``judul``, ``isi``, ``kategori {id, nama}``, ``instansi
    {id}``, ``pelapor {nama, telepon, email} | null``, ``anonim``, ``rahasia``, ``tanggal_laporan``,
    ``tanggal_disposisi`` (ISO 8601 with offset), ``lampiran [{nama, url}]``."""
    report = _object(item, "a report")
    tracking_id = report.get("tracking_id")
    if not isinstance(tracking_id, str | int) or isinstance(tracking_id, bool) or not str(tracking_id).strip():
        raise MappingError("a report without a tracking_id")
    tracking_id = str(tracking_id).strip()
    if not TRACKING_ID.match(tracking_id):
        raise MappingError("a report whose tracking_id is not 1-64 printable ASCII characters")
    where = f"report {tracking_id}"
    category = report.get("kategori")
    category_name = category.get("nama") if isinstance(category, dict) else category
    person = report.get("pelapor") or {}
    if not isinstance(person, dict):
        raise MappingError(f"{where}: pelapor is not an object")
    instansi = report.get("instansi")
    found_instansi = instansi.get("id") if isinstance(instansi, dict) else None
    files = report.get("lampiran") or []
    if not isinstance(files, list):
        raise MappingError(f"{where}: lampiran is not a list")
    return LaporReport(
        tracking_id=tracking_id,
        instansi_id=str(found_instansi) if found_instansi is not None else instansi_id,
        title=_text(report, "judul", where, required=True) or "",
        content=_text(report, "isi", where, required=True) or "",
        category=_CONTROL.sub("", category_name).strip() or None if isinstance(category_name, str) else None,
        reported_at=_time(report, "tanggal_laporan", where),
        disposed_at=_time(report, "tanggal_disposisi", where),
        reporter_name=_text(person, "nama", where),
        reporter_phone=_text(person, "telepon", where),
        reporter_email=_text(person, "email", where),
        anonymous=bool(report.get("anonim")),
        confidential=bool(report.get("rahasia")),
        attachments=tuple(_attachment(f, where) for f in files),
    )


def _attachment(item: Any, where: str) -> LaporAttachment:
    found = _object(item, f"{where}: an attachment")
    url = found.get("url")
    if not isinstance(url, str) or not url or _CONTROL.search(url):
        raise MappingError(f"{where}: an attachment without a usable url")
    name = found.get("nama")
    name = _CONTROL.sub("", name).strip() if isinstance(name, str) else ""
    return LaporAttachment(name=name or url.rsplit("/", 1)[-1], url=url)


# --------------------------------------------------------------------------- acknowledgement


def acknowledge_path(tracking_id: str) -> str:
    """``POST``: the report was received by the instansi's own application (ASSUMED; LAPOR! shows it as read)."""
    return f"{API_PREFIX}/laporan/{quote(tracking_id, safe='')}/diterima"


def acknowledge_body(reference: str) -> dict[str, Any]:
    return {"referensi": reference}  # ASSUMED: our own reference (the tracking code), shown to LAPOR!'s admins


# --------------------------------------------------------------------------- outbound: follow-ups


def follow_up_path(tracking_id: str) -> str:
    """``POST`` a follow-up ("tindak lanjut") on a report (ASSUMED)."""
    return f"{API_PREFIX}/laporan/{quote(tracking_id, safe='')}/tindak-lanjut"


def follow_up_body(follow_up: FollowUp) -> dict[str, Any]:
    """``{"status": "proses" | "selesai", "isi", "tanggal", "jenis", "nomor_surat"?}`` (ASSUMED): ``selesai``
    closes the report at LAPOR!, ``isi`` is the text it shows the complainant."""
    body: dict[str, Any] = {
        "status": follow_up.status,
        "isi": follow_up.text,
        "tanggal": follow_up.occurred_at.isoformat(),
        "jenis": follow_up.kind,
    }
    if follow_up.letter_number:
        body["nomor_surat"] = follow_up.letter_number
    return body


def parse_follow_up(body: Any) -> str:
    """``{"status": "success", "data": {"id"}}`` (ASSUMED): LAPOR!'s id of the follow-up."""
    data = _object(body, "the answer")
    found = data.get("data")
    if data.get("status") != "success" or not isinstance(found, dict) or found.get("id") in (None, ""):
        raise MappingError("follow-up: no data.id in a success answer")
    return str(found["id"])


def error_message(body: Any) -> str:
    """The reason in an error answer (``{"status": "error", "message"}``, ASSUMED), or a short excerpt."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(body)[:300]


# --------------------------------------------------------------------------- helpers


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"{what} is not a JSON object")
    return value


def _text(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MappingError(f"{where}: {key} is missing")
        return None
    if not isinstance(value, str):
        raise MappingError(f"{where}: {key} is not text")
    cleaned = _CONTROL.sub("", value).strip()
    if not cleaned:
        if required:
            raise MappingError(f"{where}: {key} is missing")
        return None
    return cleaned


def _time(data: dict[str, Any], key: str, where: str) -> datetime:
    value = data.get(key)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MappingError(f"{where}: {key} is not an ISO 8601 time with its offset")
    return parsed
