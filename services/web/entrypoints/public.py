"""The citizens' pages (no login): home, the complaint form (with the KTP/SIM/KK copy the SOP requires),
its confirmation, tracking by code, and the privacy notice.

The form is sent to intake's ``POST /v1/complaints/form`` (multipart: the ``complaint`` JSON, the
``identitas`` file and ``foto`` files) with an Idempotency-Key derived from the session and the form, so a
double submit is one complaint. Tracking reads ``GET /v1/track/{code}`` (with where a referral stands: followed
until when, answered, or lapsed); the PDFs (receipt, response letter) are the letters API's public links, passed
on.

The privacy notice (``/privasi``, and ``/privasi/{kecamatan}`` naming that kecamatan's controller; issue #17
item 6) says what is done with a complainant's personal data and on what legal basis: the public-service duty
(UU 25/2009; UU 27/2022 Pasal 20 ayat (2) huruf c and e), not consent, so the form asks for no consent
checkbox. The controller is the kabupaten's government c.q. the kecamatan; the public API gives no office
address or telephone, so the notice points to the kop surat of the office's papers (receipt, letters, the blank
Formulir Pengaduan) for them.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.web.adapters.api_client import UNAVAILABLE, ApiProblem, ApiUnavailable
from services.web.domain import formatting
from services.web.entrypoints import uploads
from services.web.entrypoints.pages import (
    api,
    kecamatan_choices,
    kecamatan_directory,
    redirect,
    render,
    session,
    zone_of,
)
from services.web.entrypoints.session import CSRF_FIELD
from shared.contracts import sop
from shared.contracts.tracking import normalize_tracking_code

router = APIRouter()

ID_KINDS = (("ktp", "KTP"), ("sim", "SIM"), ("kk", "KK"))
STALE_FORM = (
    "Formulir ini sudah terlalu lama terbuka, jadi belum terkirim. Isian Anda masih ada di bawah: "
    "periksa, pilih berkasnya lagi, lalu kirim sekali lagi."
)
TEXT_FIELDS = (
    "kecamatan", "name", "nik", "phone", "email", "address", "id_kind", "subject", "description", "confidential",
    "category",
)  # fmt: skip
LABELS = {
    "kecamatan": "Kecamatan",
    "name": "Nama lengkap",
    "nik": "NIK",
    "phone": "Nomor HP/WhatsApp",
    "email": "E-mail",
    "address": "Alamat",
    "id_kind": "Jenis kartu identitas",
    "identitas": "Foto/scan kartu identitas",
    "subject": "Pokok pengaduan",
    "description": "Uraian pengaduan",
    "foto": "Foto pendukung (boleh lebih dari satu)",
    "confidential": "Rahasiakan identitas saya",
    "category": "Kategori (tidak wajib)",
}
ORDER = (*TEXT_FIELDS[:7], "identitas", "category", "subject", "description", "foto")  # the page's order

# What each SOP step means for the complainant, in plain words (the SOP's own names stay on the timeline).
NEXT = {
    1: "Petugas kecamatan menerima pengaduan Anda dan memeriksa kelengkapannya.",
    2: "Kasi/Kasubag memeriksa identitas Anda (paling lama 3 hari kerja). Jika ada yang kurang, petugas "
    "menghubungi Anda melalui nomor HP/WhatsApp atau e-mail yang Anda berikan.",
    3: "Staf memberi nomor pada pengaduan Anda dan mencatatnya di Buku Rekap Pengaduan.",
    4: "Camat menilai apakah pengaduan Anda termasuk tugas kecamatan (paling lama 2 hari kerja). Jika bukan, "
    "pengaduan dilimpahkan kepada instansi yang berwenang dan Anda diberi tahu.",
    5: "Kasi/Kasubag menelaah pengaduan Anda dan menyiapkan tanggapannya (paling lama 2 hari kerja).",
    6: "Kasi/Kasubag meminta staf menyiapkan surat tanggapan.",
    7: "Staf menyiapkan surat tanggapan untuk Anda.",
    8: "Sekcam memeriksa surat tanggapan (paling lama 2 hari kerja).",
    9: "Staf menggandakan surat tanggapan.",
    10: "Camat menandatangani surat tanggapan (paling lama 2 hari kerja).",
    11: "Staf memberi nomor surat tanggapan dan mengarsipkannya.",
    12: "Surat tanggapan dikirim kepada Anda.",
}


async def _kecamatan_name(request: Request, slug: str) -> str:
    return dict(await kecamatan_choices(request)).get(slug, slug)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return render(request, "beranda.html")


# --- the complaint form -------------------------------------------------------------------------------


async def _form_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
    problem: str | None = None,
    files_dropped: bool = False,
) -> HTMLResponse:
    errors = errors or {}
    summary = [(name, LABELS[name], errors[name]) for name in ORDER if name in errors]
    try:
        choices = await kecamatan_choices(request)
        groups = _category_groups(await kecamatan_directory(request))
    except ApiUnavailable:
        if status_code != 503:
            raise
        # the API is down and the page says so: keep at least the kecamatan the person chose
        choices = [(values["kecamatan"], values["kecamatan"])] if values.get("kecamatan") else []
        groups = []
    return render(
        request,
        "warga_formulir.html",
        status_code=status_code,
        title="Buat pengaduan",
        values=values,
        errors=errors,
        summary=summary,
        problem=problem,
        files_dropped=files_dropped,
        kecamatan_choices=choices,
        category_groups=groups,
        id_kinds=ID_KINDS,
        labels=LABELS,
    )


def _category_groups(directory: dict[str, dict]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """The categories to pick from (issue #18 item 2): one list when every kabupaten served here has the same (the
    usual: one kabupaten), else one group per kabupaten, named (a code chosen from another kabupaten's list than the
    kecamatan's is refused by the API, shown at the field)."""
    lists: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
    for k in directory.values():
        lists.setdefault(
            k.get("kabupaten", ""), (k.get("kabupaten_name", ""), tuple((k.get("categories") or {}).items()))
        )
    distinct = {items for _, items in lists.values()}
    if len(distinct) <= 1:
        return [(None, list(next(iter(distinct), ())))] if distinct and next(iter(distinct)) else []
    return [(name, list(items)) for name, items in sorted(lists.values()) if items]


@router.get("/pengaduan/baru", response_class=HTMLResponse)
async def complaint_form(request: Request, kecamatan: str | None = None) -> HTMLResponse:
    slugs = {slug for slug, _ in await kecamatan_choices(request)}
    values = dict.fromkeys(TEXT_FIELDS, "")
    values["kecamatan"] = kecamatan if kecamatan in slugs else ""
    return await _form_page(request, values)


def _missing(values: dict[str, str], identity: list[UploadFile]) -> dict[str, str]:
    """What is plainly left empty; everything else is checked by the API (one source of rules)."""
    errors: dict[str, str] = {}
    required = {
        "kecamatan": "Pilih kecamatan tempat Anda mengadu.",
        "name": "Isi nama lengkap Anda.",
        "nik": "Isi NIK (16 angka, tertera di KTP atau KK).",
        "id_kind": "Pilih jenis kartu identitas yang Anda lampirkan.",
        "subject": "Isi pokok pengaduan secara singkat.",
        "description": "Uraikan pengaduan Anda.",
    }
    for name, message in required.items():
        if not values[name]:
            errors[name] = message  # noqa: PERF403
    if not values["phone"] and not values["email"]:
        errors["phone"] = "Isi nomor HP/WhatsApp atau e-mail agar tanggapan dapat dikirim kepada Anda."
    if not identity:
        errors["identitas"] = "Pilih foto atau pindaian KTP, SIM, atau KK Anda."
    return errors


def _page_field(api_field: str) -> str | None:
    """The form field an API error belongs to (``complaint.complainant.nik`` -> ``nik``, ``foto.2`` -> ``foto``)."""
    name = api_field.removeprefix("complaint.").removeprefix("complainant.")
    if name == "complainant":  # "phone or e-mail" is about the pair: shown at the first of them
        return "phone"
    name = name.split(".", 1)[0]
    return name if name in LABELS else None


@router.post("/pengaduan/baru", response_class=HTMLResponse)
async def submit_complaint(request: Request) -> Response:
    form = await request.form()
    try:
        values = {name: (form.get(name) if isinstance(form.get(name), str) else "").strip() for name in TEXT_FIELDS}
        identity, photos = uploads.chosen(form, "identitas"), uploads.chosen(form, "foto")
        had_files = bool(identity or photos)
        token = form.get(CSRF_FIELD)
        if not session(request).csrf_ok(token if isinstance(token, str) else None):
            # an expired session (or a page of another site): nothing is sent, but what was typed is shown
            # again with a fresh form to send it from
            return await _form_page(request, values, status_code=403, problem=STALE_FORM, files_dropped=had_files)
        errors = _missing(values, identity)
        if errors:
            return await _form_page(request, values, errors, status_code=422, files_dropped=had_files)
        files = [
            ("identitas", (u.filename, await u.read(), u.content_type or "application/octet-stream")) for u in identity
        ]
        files += [("foto", (u.filename, await u.read(), u.content_type or "application/octet-stream")) for u in photos]
    finally:
        await form.close()
    complaint = {
        "kecamatan": values["kecamatan"],
        "channel": "web",
        "id_kind": values["id_kind"],
        "complainant": {
            "name": values["name"],
            "nik": values["nik"],
            "phone": values["phone"] or None,
            "email": values["email"] or None,
            "address": values["address"] or None,
        },
        "subject": values["subject"],
        "description": values["description"],
        "confidential": values["confidential"] == "ya",  # pelapor rahasia: a checkbox, "ya" when ticked
        **({"category": values["category"]} if values["category"] else {}),  # picked, or left to the staff
    }
    key = uploads.idempotency_key("web-", session(request).csrf, complaint, files)
    try:
        accepted = await api(request).call(
            "POST",
            "/v1/complaints/form",
            data={"complaint": json.dumps(complaint)},
            files=files,
            headers={"Idempotency-Key": key},
        )
    except ApiUnavailable:  # the form stays, with what was typed; the files must be chosen again
        return await _form_page(request, values, status_code=503, problem=UNAVAILABLE, files_dropped=True)
    except ApiProblem as exc:
        errors = {}
        for api_field, message in exc.field_errors().items():
            name = _page_field(api_field)
            if name is not None:
                errors.setdefault(name, message)
        problem = None if errors else exc.message
        if exc.status == 429:  # too many from this address: say so, with when to try again
            response = await _form_page(request, values, status_code=429, problem=exc.message, files_dropped=True)
            if exc.retry_after:
                response.headers["Retry-After"] = exc.retry_after
            return response
        return await _form_page(request, values, errors, status_code=422, problem=problem, files_dropped=True)
    return redirect(f"/pengaduan/terkirim/{accepted['tracking_code']}")


# --- confirmation and tracking ------------------------------------------------------------------------


async def _tracking(request: Request, code: str) -> dict | None:
    try:
        return await api(request).call("GET", f"/v1/track/{code}")
    except ApiProblem as exc:
        if exc.status == 404:
            return None
        raise


def _not_found(request: Request, kode: str) -> HTMLResponse:
    return render(
        request,
        "warga_lacak.html",
        status_code=404,
        title="Kode pelacakan tidak ditemukan",
        kode=kode,
        error="Kode pelacakan ini tidak ditemukan. Periksa kembali kode pada tanda terima atau pesan "
        "yang Anda terima (contoh: 7KQ2-M9XD-4T), lalu coba lagi.",
    )


@router.get("/pengaduan/terkirim/{code}", response_class=HTMLResponse)
async def submitted(request: Request, code: str) -> Response:
    normal = normalize_tracking_code(code)
    found = await _tracking(request, normal) if normal else None
    if found is None:
        return _not_found(request, code)
    await zone_of(request, found["kecamatan"])  # the time it was received, in its kabupaten's zone
    return render(
        request,
        "warga_terkirim.html",
        title="Pengaduan terkirim",
        t=found,
        kecamatan_name=await _kecamatan_name(request, found["kecamatan"]),
    )


@router.get("/lacak", response_class=HTMLResponse)
async def track_form(request: Request, kode: str | None = None) -> Response:
    if kode is None:
        return render(request, "warga_lacak.html", title="Lacak pengaduan", kode="", error=None)
    if not kode.strip():
        return render(
            request,
            "warga_lacak.html",
            status_code=422,
            title="Lacak pengaduan",
            kode="",
            error="Isi kode pelacakan Anda.",
        )
    normal = normalize_tracking_code(kode)
    if normal is None:
        return _not_found(request, kode)
    return redirect(f"/lacak/{normal}")


@router.get("/lacak/{code}", response_class=HTMLResponse)
async def track_page(request: Request, code: str) -> Response:
    normal = normalize_tracking_code(code)
    if normal is None:
        return _not_found(request, code)
    if normal != code:
        return redirect(f"/lacak/{normal}")
    return await _status_page(request, normal)


async def _status_page(
    request: Request,
    normal: str,
    *,
    status_code: int = 200,
    feedback: dict[str, str] | None = None,
    feedback_errors: dict[str, str] | None = None,
    feedback_problem: str | None = None,
) -> Response:
    found = await _tracking(request, normal)
    if found is None:
        return _not_found(request, normal)
    current = found.get("current_step")
    if current is None and found["status"] == "received":  # not yet taken up by the workflow
        current = {"number": 1, "name": sop.DEFAULT.step(1).name}
    zone = await zone_of(request, found["kecamatan"])  # every date and time in its kabupaten's zone
    referral = found.get("referral")
    if referral:
        until, answered_on = referral.get("follow_up_by"), referral.get("answered_on")
        referral = {
            **referral,
            "until": formatting.tanggal(until, zone) if until else None,
            "answered": formatting.tanggal(answered_on, zone) if answered_on else None,
        }
    return render(
        request,
        "warga_status.html",
        status_code=status_code,
        title=f"Pengaduan {normal}",
        t=found,
        current=current,
        next_text=NEXT.get(current["number"]) if current else None,
        referral=referral,
        kecamatan_name=await _kecamatan_name(request, found["kecamatan"]),
        feedback=feedback or {},
        feedback_errors=feedback_errors or {},
        feedback_problem=feedback_problem,
        ratings=RATINGS,
    )


# --- the complainant's answer after the response (issue #18 item 1; docs/adr/0020) ---------------------------

RATINGS = {"4": "Sangat baik", "3": "Baik", "2": "Kurang baik", "1": "Tidak baik"}
FEEDBACK_FIELDS = ("selesai", "nilai", "keterangan")


@router.post("/lacak/{code}/penilaian", response_class=HTMLResponse)
async def give_feedback(request: Request, code: str) -> Response:
    """The form on the status page: resolved or not, a rating, and what is not resolved; sent to intake's
    ``POST /v1/track/{code}/feedback``. What was typed is kept on every refusal."""
    normal = normalize_tracking_code(code)
    if normal is None:
        return _not_found(request, code)
    form = await request.form()
    values = {name: (form.get(name) if isinstance(form.get(name), str) else "").strip() for name in FEEDBACK_FIELDS}
    token = form.get(CSRF_FIELD)
    if not session(request).csrf_ok(token if isinstance(token, str) else None):
        return await _status_page(request, normal, status_code=403, feedback=values, feedback_problem=STALE_FORM)
    errors = {}
    if values["selesai"] not in ("ya", "tidak"):
        errors["selesai"] = "Pilih apakah pengaduan Anda sudah selesai."
    if values["nilai"] not in RATINGS:
        errors["nilai"] = "Pilih penilaian Anda atas pelayanan kami."
    if values["selesai"] == "tidak" and not values["keterangan"]:
        errors["keterangan"] = "Tuliskan apa yang belum selesai, agar petugas dapat menindaklanjutinya."
    if errors:
        return await _status_page(request, normal, status_code=422, feedback=values, feedback_errors=errors)
    body = {
        "satisfied": values["selesai"] == "ya",
        "rating": int(values["nilai"]),
        "comment": values["keterangan"] or None,
    }
    try:
        answer = await api(request).call("POST", f"/v1/track/{normal}/feedback", json=body)
    except ApiProblem as exc:
        if exc.status == 404:
            return _not_found(request, code)
        status = exc.status if exc.status in (409, 422, 429) else 422
        fields = {"comment": "keterangan", "rating": "nilai", "satisfied": "selesai"}
        errors = {fields[k]: v for k, v in exc.field_errors().items() if k in fields}
        response = await _status_page(
            request,
            normal,
            status_code=status,
            feedback=values,
            feedback_errors=errors,
            feedback_problem=None if errors else exc.message,
        )
        if exc.status == 429 and exc.retry_after:
            response.headers["Retry-After"] = exc.retry_after
        return response
    return redirect(f"/lacak/{normal}", flash=answer["message"], request=request)


# --- the citizen's PDFs: passed on from the letters API, or a page that says why not yet -------------------

PDFS = {
    "tanda-terima.pdf": (
        "receipt",
        "Tanda terima belum tersedia",
        "Tanda terima sedang dibuat. Coba lagi dalam satu menit.",
    ),
    "surat-tanggapan.pdf": (
        "letter",
        "Surat tanggapan belum tersedia",
        "Surat tanggapan belum dikirim untuk pengaduan ini. Lihat perjalanannya di halaman lacak.",
    ),
}
PDFS["surat-jawaban.pdf"] = PDFS["surat-tanggapan.pdf"]  # the name pages and links gave it before (issue #16)


ERASED_DOCUMENT = "Dokumen ini sudah dihapus karena data pribadi pengadu dihapus."


@router.get("/lacak/{code}/{name}")
async def citizen_pdf(request: Request, code: str, name: str) -> Response:
    """The receipt or the signed letter of a complaint, by its tracking code (as the letters API serves them,
    without login), or a page in Bahasa Indonesia when it is not there yet (instead of the API's JSON)."""
    normal = normalize_tracking_code(code)
    if name not in PDFS or not normal:
        return _not_found(request, code)
    kind, title, message = PDFS[name]
    r = await api(request).raw("GET", f"/v1/letters/track/{normal}/{kind}")
    if r.status_code == 200 and r.headers.get("content-type", "").startswith("application/pdf"):
        # always a download (the API says so too), sandboxed and unsniffed: no PDF's script runs on our origin
        headers = {k: v for k, v in r.headers.items() if k.lower() == "etag"}
        _, _, params = (r.headers.get("content-disposition") or "").partition(";")
        headers["Content-Disposition"] = f"attachment;{params}" if params.strip() else f'attachment; filename="{name}"'
        return Response(
            r.content,
            media_type="application/pdf",
            headers={
                **headers,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
            },
        )
    if r.status_code >= 500:
        raise ApiUnavailable(f"letters: HTTP {r.status_code}")
    if r.status_code == 410:  # erased with the complainant's personal data (docs/adr/0017): gone, not "not yet"
        return render(request, "galat.html", status_code=410, title=title, message=ERASED_DOCUMENT)
    return render(request, "galat.html", status_code=404, title=title, message=message)


# --- the privacy notice (issue #17 item 6) ------------------------------------------------------------------


def _controllers(directory: dict[str, dict]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[("Pemerintah Kabupaten Pamekasan", [(slug, kecamatan name), ...]), ...]``: who answers for the data of
    a complaint made in each kecamatan served here, by kabupaten."""
    by_kabupaten: dict[str, list[tuple[str, str]]] = {}
    for k in sorted(directory.values(), key=lambda k: k["name"]):
        by_kabupaten.setdefault(f"Pemerintah {k['kabupaten_name']}", []).append((k["slug"], k["name"]))
    return sorted(by_kabupaten.items())


@router.get("/privasi", response_class=HTMLResponse)
async def privacy_notice(request: Request) -> HTMLResponse:
    """The notice for every kecamatan served here; readable even when the API is away (without the list)."""
    try:
        directory = await kecamatan_directory(request)
    except ApiUnavailable:
        directory = {}
    return render(
        request,
        "privasi.html",
        title="Pelindungan data pribadi",
        kecamatan=None,
        controllers=_controllers(directory),
        unknown=False,
    )


@router.get("/privasi/{slug}", response_class=HTMLResponse)
async def privacy_notice_of(request: Request, slug: str) -> HTMLResponse:
    """The notice naming one kecamatan's controller and how to reach its office; a kecamatan not served here:
    404 with the notice for all of them."""
    directory = await kecamatan_directory(request, missing=slug)
    found = directory.get(slug)
    return render(
        request,
        "privasi.html",
        status_code=200 if found else 404,
        title=f"Pelindungan data pribadi · Kecamatan {found['name']}" if found else "Pelindungan data pribadi",
        kecamatan=found,
        controllers=[] if found else _controllers(directory),
        unknown=found is None,
    )
