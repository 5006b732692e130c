"""A LAPOR! report as intake takes it (``POST /v1/channels/lapor``), and as the bridge's inbox keeps it. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.lapor.domain.model import LaporAttachment, LaporReport
from shared.contracts.categories import Category

MAX_SUBJECT = 200
MAX_DESCRIPTION = 20000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def idempotency_key(tracking_id: str) -> str:
    """Intake's idempotency key of a report: a second hand-over answers the first."""
    return f"lapor:{tracking_id}"


def category_code(lapor_name: str | None, categories: Sequence[Category]) -> str | None:
    """Our category filed under LAPOR!'s ``lapor_name`` (the first of the kabupaten's list, case and blanks
    ignored); None when none is: staff set it at step 3."""
    if not lapor_name:
        return None
    wanted = " ".join(lapor_name.split()).casefold()
    return next((c.code for c in categories if c.lapor and " ".join(c.lapor.split()).casefold() == wanted), None)


def phone_e164(raw: str | None) -> str | None:
    """An Indonesian number as E.164 (``08...``, ``628...``, ``+628...``); None when it is not one."""
    if not raw:
        return None
    digits = re.sub(r"[\s().-]", "", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    return f"+{digits}" if digits.isdigit() and 8 <= len(digits) <= 15 and digits[0] != "0" else None


def submission(report: LaporReport, kecamatan: str, category: str | None) -> dict[str, Any]:
    """The ``complaint`` field of intake's LAPOR! route. The description ends with LAPOR!'s tracking id and category,
    so that staff see where the complaint came from."""
    footer = f"[SP4N-LAPOR! #{report.tracking_id}" + (
        f"; kategori LAPOR!: {report.category}]" if report.category else "]"
    )
    content = report.content[: MAX_DESCRIPTION - len(footer) - 2]
    email = report.reporter_email if report.reporter_email and _EMAIL.match(report.reporter_email) else None
    return {
        "kecamatan": kecamatan,
        "lapor_id": report.tracking_id,
        "subject": " ".join(report.title.split())[:MAX_SUBJECT] or f"Laporan SP4N-LAPOR! #{report.tracking_id}",
        "description": f"{content}\n\n{footer}",
        "complainant": {
            "name": report.reporter_name,
            "phone": phone_e164(report.reporter_phone),
            "email": email,
            "anonymous": report.anonymous or not report.reporter_name,
            "confidential": report.confidential,
        },
        "category": category,
        "received_at": report.disposed_at.isoformat(),
    }


# --------------------------------------------------------------------------- the inbox's copy


def to_json(report: LaporReport) -> dict[str, Any]:
    return {
        "tracking_id": report.tracking_id,
        "instansi_id": report.instansi_id,
        "title": report.title,
        "content": report.content,
        "category": report.category,
        "reported_at": report.reported_at.isoformat(),
        "disposed_at": report.disposed_at.isoformat(),
        "reporter_name": report.reporter_name,
        "reporter_phone": report.reporter_phone,
        "reporter_email": report.reporter_email,
        "anonymous": report.anonymous,
        "confidential": report.confidential,
        "attachments": [{"name": a.name, "url": a.url} for a in report.attachments],
    }


def from_json(data: dict[str, Any]) -> LaporReport:
    return LaporReport(
        tracking_id=data["tracking_id"],
        instansi_id=data["instansi_id"],
        title=data["title"],
        content=data["content"],
        category=data.get("category"),
        reported_at=datetime.fromisoformat(data["reported_at"]),
        disposed_at=datetime.fromisoformat(data["disposed_at"]),
        reporter_name=data.get("reporter_name"),
        reporter_phone=data.get("reporter_phone"),
        reporter_email=data.get("reporter_email"),
        anonymous=bool(data.get("anonymous")),
        confidential=bool(data.get("confidential")),
        attachments=tuple(LaporAttachment(a["name"], a["url"]) for a in data.get("attachments", [])),
    )


IDENTITY = ("reporter_name", "reporter_phone", "reporter_email")
ERASED_TEXT = "(dihapus)"


def without_identity(data: dict[str, Any]) -> dict[str, Any]:
    """The inbox's copy once intake holds the report: the reporter's identity is intake's to keep (sealed), not
    the bridge's."""
    return {**data, **dict.fromkeys(IDENTITY)}


def erased(data: dict[str, Any]) -> dict[str, Any]:
    """The inbox's copy after the complainant's personal data was erased (docs/adr/0017): their words too."""
    return {**without_identity(data), "title": ERASED_TEXT, "content": ERASED_TEXT, "attachments": []}
