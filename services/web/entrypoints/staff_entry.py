"""Staff type in a complaint that did not come through the web (``/petugas/pengaduan/baru``): a form found in
the complaint box (the SOP's main channel), a phone call, or a complainant who came to the office.

The page asks what the public form asks (name, NIK, contact, address, subject, description), plus the channel,
when the complaint reached the office (the SOP's 12 working days run from then, not from the typing) and the
scans: the paper form itself and the identity card. It is sent to intake's ``POST /v1/staff/complaints`` with
the user's token (multipart: the ``complaint`` JSON and the ``scan`` files, their kinds in ``scan_kinds`` in
the same order), with an Idempotency-Key derived from the session and the form, so a form sent twice is one
complaint. Every rule (NIK, phone, dates, files) is the API's; its refusals are shown at their fields.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.web.adapters.api_client import UNAVAILABLE, ApiProblem, ApiUnavailable
from services.web.domain import formatting
from services.web.domain.formatting import Zone
from services.web.entrypoints import uploads
from services.web.entrypoints.pages import api, render, require_user, session, zone_of
from services.web.entrypoints.public import ID_KINDS
from services.web.entrypoints.session import CSRF_FIELD
from services.web.entrypoints.staff_complaint import STAFF_ROLES, signed_out_on_401
from shared.contracts.intake import CHANNEL_LABELS, STAFF_CHANNELS

router = APIRouter()

PATH = "/petugas/pengaduan/baru"
TEXT_FIELDS = (
    "channel",
    "received_at",
    "name",
    "nik",
    "id_kind",
    "phone",
    "email",
    "address",
    "subject",
    "description",
    "confidential",  # a checkbox: "ya" when ticked (the complainant asked that their identity be kept confidential)
)
LABELS = {
    "channel": "Saluran",
    "received_at": "Diterima pada",  # and the kabupaten's zone: "Diterima pada (WITA)" (``_labels``)
    "name": "Nama lengkap pengadu",
    "nik": "NIK",
    "id_kind": "Jenis kartu identitas",
    "phone": "Nomor HP/WhatsApp",
    "email": "E-mail",
    "address": "Alamat",
    "subject": "Pokok pengaduan",
    "description": "Uraian pengaduan",
    "confidential": "Pengadu meminta identitasnya dirahasiakan",
    "formulir": "Pindaian formulir pengaduan",
    "identitas": "Pindaian kartu identitas",
}
ORDER = (*TEXT_FIELDS[:2], "formulir", *TEXT_FIELDS[2:5], "identitas", *TEXT_FIELDS[5:])  # the page's order
MAX_FILES = 5  # intake's max_attachments (its default): a deployment that sets fewer says so at the field
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
STALE_FORM = (
    "Formulir ini sudah terlalu lama terbuka, jadi belum tercatat. Isian Anda masih ada di bawah: periksa, pilih "
    "berkasnya lagi, lalu simpan sekali lagi."
)
ID_KIND_LABELS = dict(ID_KINDS)


def _now_local(zone: Zone) -> datetime:
    """Now, to the minute, as a datetime-local field holds it: the wall clock of the kabupaten's zone."""
    return datetime.now(zone.tz).replace(second=0, microsecond=0, tzinfo=None)


def _labels(zone: Zone) -> dict[str, str]:
    """The fields' labels; the date and time received says in which zone it is read (WIB, WITA or WIT)."""
    return {**LABELS, "received_at": f"{LABELS['received_at']} ({zone.label})"}


def _blank(zone: Zone) -> dict[str, str]:
    values = dict.fromkeys(TEXT_FIELDS, "")
    values.update(channel="kotak", id_kind="ktp", received_at=_now_local(zone).strftime(LOCAL_FORMAT))
    return values


async def _page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
    problem: str | None = None,
    files_dropped: bool = False,
) -> HTMLResponse:
    """The form (blank when ``values`` is None), in the zone of the user's kecamatan."""
    zone = await zone_of(request, session(request).user.get("kecamatan"))
    values = values if values is not None else _blank(zone)
    errors = errors or {}
    labels = _labels(zone)
    now = _now_local(zone)
    return render(
        request,
        "petugas_baru.html",
        status_code=status_code,
        title="Catat pengaduan",
        values=values,
        errors=errors,
        summary=[(name, labels[name], errors[name]) for name in ORDER if name in errors],
        problem=problem,
        files_dropped=files_dropped,
        labels=labels,
        channels=[(c, CHANNEL_LABELS[c]) for c in STAFF_CHANNELS],
        id_kinds=ID_KINDS,
        max_files=MAX_FILES,
        earliest=(now - timedelta(days=30)).strftime(LOCAL_FORMAT),
        latest=now.strftime(LOCAL_FORMAT),
        blank_form=f"/v1/letters/formulir/{session(request).user.get('kecamatan')}.pdf",
        accepted=None,
    )


@router.get(PATH, response_class=HTMLResponse)
async def entry_form(request: Request) -> HTMLResponse:
    require_user(request, *STAFF_ROLES)
    return await _page(request)


def _received_at(text: str, zone: Zone) -> datetime | None:
    """The datetime-local value as an aware time in the kabupaten's zone (None: not a date and time)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone.tz)


def _missing(
    values: dict[str, str], scanned_form: list[UploadFile], identity: list[UploadFile], zone: Zone
) -> dict[str, str]:
    """What is plainly left empty or cannot be read; everything else is checked by the API."""
    errors: dict[str, str] = {}
    required = {
        "name": "Isi nama lengkap pengadu.",
        "nik": "Isi NIK pengadu (16 angka, tertera di KTP atau KK).",
        "subject": "Isi pokok pengaduan secara singkat.",
        "description": "Isi uraian pengaduan.",
    }
    for name, message in required.items():
        if not values[name]:
            errors[name] = message  # noqa: PERF403
    if values["channel"] not in STAFF_CHANNELS:
        errors["channel"] = "Pilih saluran: kotak pengaduan, telepon, atau datang langsung."
    if not values["received_at"] or _received_at(values["received_at"], zone) is None:
        errors["received_at"] = "Isi tanggal dan jam pengaduan diterima."
    if not values["phone"] and not values["email"]:
        errors["phone"] = "Isi nomor HP/WhatsApp atau e-mail pengadu agar tanggapan dapat dikirim."
    if values["channel"] == "kotak" and not scanned_form:
        errors["formulir"] = "Pindai formulir yang ditemukan di kotak pengaduan, lalu pilih berkasnya."
    if identity and values["id_kind"] not in ID_KIND_LABELS:
        errors["id_kind"] = "Pilih jenis kartu identitas yang dipindai."
    return errors


def _page_field(api_field: str, scanned_forms: int) -> str | None:
    """The page's field an API error belongs to: ``complaint.complainant.nik`` -> ``nik``; ``scan.2`` -> the
    scanned form or the identity card, by its place in the files sent (the form's come first)."""
    if api_field.startswith("scan"):
        _, _, index = api_field.partition(".")
        return "formulir" if index.isdigit() and int(index) < scanned_forms else "identitas"
    name = api_field.removeprefix("complaint.").removeprefix("complainant.")
    if name == "complainant":  # "phone or e-mail" is about the pair: shown at the first of them
        return "phone"
    if name.startswith("scan_kinds"):
        return "identitas"
    name = name.split(".", 1)[0]
    return name if name in LABELS else None


@router.post(PATH, response_class=HTMLResponse)
async def enter_complaint(request: Request) -> Response:
    s = require_user(request, *STAFF_ROLES)
    zone = await zone_of(request, s.user.get("kecamatan"))  # the time typed is the office's wall clock
    form = await request.form()
    try:
        values = {name: (v.strip() if isinstance(v := form.get(name), str) else "") for name in TEXT_FIELDS}
        scanned_form, identity = uploads.chosen(form, "formulir"), uploads.chosen(form, "identitas")
        had_files = bool(scanned_form or identity)
        token = form.get(CSRF_FIELD)
        if not s.csrf_ok(token if isinstance(token, str) else None):
            # a form left open across a sign-out and sign-in: nothing is sent, what was typed stays
            return await _page(request, values, status_code=403, problem=STALE_FORM, files_dropped=had_files)
        errors = _missing(values, scanned_form, identity, zone)
        if errors:
            return await _page(request, values, errors, status_code=422, files_dropped=had_files)
        files = [
            ("scan", (u.filename or "formulir", await u.read(), u.content_type or "application/octet-stream"))
            for u in (*scanned_form, *identity)
        ]
    finally:
        await form.close()
    received_at = _received_at(values["received_at"], zone)
    assert received_at is not None  # noqa: S101 (checked by _missing)
    kinds = ["lainnya"] * len(scanned_form) + [values["id_kind"]] * len(identity)
    complaint: dict[str, Any] = {
        "channel": values["channel"],
        "received_at": received_at.isoformat(),
        "complainant": {
            "name": values["name"],
            "nik": values["nik"],
            "phone": values["phone"] or None,
            "email": values["email"] or None,
            "address": values["address"] or None,
        },
        "confidential": values["confidential"] == "ya",  # pelapor rahasia
        "subject": values["subject"],
        "description": values["description"],
    }
    if kinds:
        complaint["scan_kinds"] = kinds
    key = uploads.idempotency_key("petugas-", s.csrf, complaint, files)
    try:
        accepted = await api(request).call(
            "POST",
            "/v1/staff/complaints",
            token=s.token,
            data={"complaint": json.dumps(complaint)},
            files=files,
            headers={"Idempotency-Key": key},
        )
    except ApiUnavailable:  # the form stays, with what was typed; the files must be chosen again
        return await _page(request, values, status_code=503, problem=UNAVAILABLE, files_dropped=had_files)
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        errors = {}
        for api_field, message in exc.field_errors().items():
            name = _page_field(api_field, len(scanned_form))
            if name is not None:
                errors.setdefault(name, message)
        status = exc.status if exc.status in (403, 409, 413, 429) else 422
        response = await _page(
            request,
            values,
            errors,
            status_code=status,
            problem=None if errors else exc.message,
            files_dropped=had_files,
        )
        if exc.retry_after:
            response.headers["Retry-After"] = exc.retry_after
        return response
    register = [
        ("Saluran", CHANNEL_LABELS[values["channel"]]),
        ("Diterima", formatting.waktu_panjang(accepted.get("received_at") or received_at, zone)),
        ("Nama pengadu", values["name"]),
        ("NIK", values["nik"]),
        ("Nomor HP/WhatsApp", values["phone"] or "-"),
        ("E-mail", values["email"] or "-"),
        ("Alamat", values["address"] or "-"),
        ("Identitas dirahasiakan", "Ya (pelapor rahasia)" if values["confidential"] == "ya" else "Tidak"),
        ("Pokok pengaduan", values["subject"]),
        ("Uraian pengaduan", values["description"]),
    ]
    scans = [("Formulir pengaduan", u.filename) for u in scanned_form]
    scans += [(ID_KIND_LABELS[values["id_kind"]], u.filename) for u in identity]
    return render(
        request,
        "petugas_baru.html",
        title=f"Pengaduan {accepted['tracking_code']} tercatat",
        accepted=accepted,
        register=register,
        scans=scans,
        entered_by=s.user.get("full_name") or s.user.get("username"),
    )
