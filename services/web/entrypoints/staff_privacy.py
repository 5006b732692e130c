"""The pages of personal data protection (UU 27/2022 PDP; issue #17, docs/adr/0017), over the workflow API:

- ``/petugas/privasi`` "Pelindungan Data Pribadi": the record of requests about complainants' personal data and
  their outcomes (``GET /v1/privacy/requests``), for the kabupaten's data-protection officer (``pdp``), the Camat
  (their kecamatan's) and admins; with, for the officer and admins, the form of an erasure
  (``POST /v1/privacy/erasures``) in two steps: the complaint and the reason, then a confirmation (it cannot be
  undone). A refusal comes back with the API's message, the form as typed;
- ``/petugas/pengaduan/{id}/catatan-akses``: who looked at a complaint's personal data, when, what, through which
  service and why (``GET /v1/complaints/{id}/access-log``), a page at a time; the API says who may read it.

``access_reason`` is the rule for a reason typed here (an erasure's, or a download's sent as ``X-Access-Reason``):
required, one line, at most 500 characters, as the API takes it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic_core import PydanticCustomError

from services.web.adapters.api_client import ApiProblem
from services.web.domain import formatting
from services.web.domain.formatting import Zone
from services.web.entrypoints import staff_views as views
from services.web.entrypoints.pages import (
    ROLE_LABELS,
    api,
    check_csrf,
    kecamatan_directory,
    redirect,
    render,
    require_user,
    zone_of,
)
from services.web.entrypoints.staff_complaint import (
    ACCESS_LOG_READERS,
    ERASERS,
    READERS,
    not_found_page,
    signed_out_on_401,
)
from shared.access_log import REASON_MAX_LENGTH
from shared.text import clean_one_line

router = APIRouter()

PATH = "/petugas/privasi"
REQUIRED = "Wajib diisi."
INVALID = "Ada isian yang belum benar. Periksa kembali."
ACCESS_LOG_PAGE = 50

# the page's choice of kind (its words) -> the API's
KINDS = {"penghapusan": "erasure", "retensi": "retention", "salinan": "access", "pembetulan": "correction"}
KIND_LABELS = {
    "erasure": "Penghapusan data pribadi",
    "retention": "Penghapusan karena masa retensi berakhir",
    "access": "Salinan data pribadi",
    "correction": "Pembetulan data pribadi",
}
OUTCOME_LABELS = {"done": "Dilaksanakan", "refused": "Ditolak"}
FIELD_LABELS = {"name": "nama", "nik": "NIK", "phone": "nomor telepon", "email": "e-mail", "address": "alamat"}
RETENTION_JOB = "retensi"  # requested_by of the retention job's erasures

# what was looked at (shared.access_log.WHAT), as the access-log page says it
WHAT_LABELS = {
    "complaint.detail": "Rincian pengaduan (halaman pengaduan)",
    "complaint.action": "Rincian pengaduan, sesudah tindakan SOP",
    "register.json": "Buku Rekap Pengaduan (halaman)",
    "register.csv": "Buku Rekap Pengaduan, diunduh (CSV)",
    "register.xlsx": "Buku Rekap Pengaduan, diunduh (XLSX)",
    "dashboard.overdue": "Daftar pengaduan terlambat di dasbor (nama dan telepon)",
    "scan.download": "Pindaian identitas atau foto dari pengadu",
    "privacy.access_copy": "Salinan data pribadi atas permintaan pengadu",
}
DOCUMENT_LABELS = {**views.DOCUMENT_KINDS, "kartu_kendali": "Kartu Kendali"}
SERVICE_LABELS = {
    "workflow": "Layanan penanganan pengaduan",
    "dashboard": "Dasbor dan Buku Rekap",
    "letters": "Layanan surat dan dokumen",
    "intake": "Layanan penerimaan pengaduan",
}
PUBLIC = "public"  # the role of whoever held the tracking code (shared.access_log.PUBLIC)


# -- what the pages show ---------------------------------------------------------------------------------------------
def access_reason(raw: Any) -> tuple[str, str | None]:
    """A reason as typed, made one clean line (its spaces folded), and what is wrong with it (None: nothing)."""
    text = raw if isinstance(raw, str) else ""
    try:
        text = " ".join(clean_one_line(text).split())
    except PydanticCustomError as exc:
        return text, exc.message()
    if not text:
        return "", REQUIRED
    if len(text) > REASON_MAX_LENGTH:
        return text, f"Terlalu panjang (maksimal {REASON_MAX_LENGTH} karakter)."
    return text, None


def _zone(directory: dict[str, dict], kecamatan: str, fallback: Zone) -> Zone:
    found = directory.get(kecamatan)
    return Zone.of(found.get("time_zone"), found.get("time_zone_label")) if found else fallback


def _outcome_detail(item: dict) -> str:
    detail = item.get("detail") or {}
    if item["outcome"] == "refused":
        return str(detail.get("message") or detail.get("code") or "")
    fields = ", ".join(FIELD_LABELS.get(f, f) for f in detail.get("fields") or [])
    if item["kind"] == "correction":
        return f"Dibetulkan: {fields}." if fields else ""
    if item["kind"] == "access":
        return f"Salinan diberikan: {fields}." if fields else "Salinan diberikan."
    return "Kunci data pengaduan dimusnahkan: data pribadi pengadu tidak dapat dibaca lagi."


def request_rows(items: list[dict], directory: dict[str, dict], fallback: Zone) -> list[dict]:
    """The API's records as the page lists them, each time in its kecamatan's kabupaten's zone."""
    rows = []
    for item in items:
        zone = _zone(directory, item["kecamatan"], fallback)
        rows.append(
            {
                "kind": KIND_LABELS.get(item["kind"], item["kind"]),
                "complaint_id": item["complaint_id"],
                "register_number": item.get("register_number"),
                "kecamatan": (directory.get(item["kecamatan"]) or {}).get("name", item["kecamatan"]),
                "at": item["received_at"],
                "at_text": formatting.waktu(item["received_at"], zone),
                "by": "Tugas retensi (otomatis)" if item["requested_by"] == RETENTION_JOB else item["requested_by"],
                "refused": item["outcome"] == "refused",
                "outcome": OUTCOME_LABELS.get(item["outcome"], item["outcome"]),
                "detail": _outcome_detail(item),
                "reason": item["reason"],
            }
        )
    return rows


def what_label(code: str) -> str:
    if code in WHAT_LABELS:
        return WHAT_LABELS[code]
    if code.startswith("document."):
        kind, _, by_code = code.removeprefix("document.").partition(".")
        label = DOCUMENT_LABELS.get(kind, kind)
        return f"{label}, diunduh dengan kode pelacakan" if by_code else f"{label}, diunduh"
    return code


def who_label(entry: dict) -> str:
    if entry.get("role") == PUBLIC or not entry.get("user"):
        return "Pemegang kode pelacakan (pengadu)"
    role = entry.get("role") or ""
    return f"{entry['user']} ({ROLE_LABELS.get(role, role)})"


def access_rows(items: list[dict]) -> list[dict]:
    return [
        {
            "at": e["at"],
            "who": who_label(e),
            "what": what_label(e["what"]),
            "others": max(0, int(e.get("complaints") or 1) - 1),
            "via": SERVICE_LABELS.get(e["service"], e["service"]),
            "reason": e.get("reason"),
        }
        for e in items
    ]


# -- the record of requests, and the erasure form --------------------------------------------------------------------
async def privacy_page(
    request: Request,
    *,
    status_code: int = 200,
    submitted: dict | None = None,
    jenis: str | None = None,
    pengaduan: str | None = None,
) -> Response:
    s = require_user(request, *ACCESS_LOG_READERS)
    kind = KINDS.get(jenis or "")
    params: dict[str, Any] = {"limit": 100, **({"kind": kind} if kind else {})}
    try:
        items = await api(request).call("GET", "/v1/privacy/requests", token=s.token, params=params)
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        raise
    fallback = await zone_of(request)  # the user's own kecamatan's or kabupaten's
    directory = await kecamatan_directory(request)
    values = (submitted or {}).get("values") or {"complaint_id": _uuid_text(pengaduan) or "", "reason": ""}
    return render(
        request,
        "petugas_privasi.html",
        status_code=status_code,
        title="Pelindungan Data Pribadi",
        rows=request_rows(items, directory, fallback),
        kinds=[(k, KIND_LABELS[v]) for k, v in KINDS.items()],
        jenis=jenis if kind else "",
        may_erase=s.role in ERASERS,
        submitted={"form": "hapus", **(submitted or {}), "values": values},
    )


def _uuid_text(value: str | None) -> str | None:
    try:
        return str(UUID((value or "").strip()))
    except ValueError:
        return None


@router.get(PATH, response_class=HTMLResponse)
async def privacy(request: Request, jenis: str | None = None, pengaduan: str | None = None) -> Response:
    return await privacy_page(request, jenis=jenis, pengaduan=pengaduan)


def _refused(values: dict[str, str], exc: ApiProblem) -> dict:
    """The form as sent, the API's field errors at their fields and its message above them."""
    errors: dict[str, str] = {}
    loose: list[str] = [exc.message]
    for name, message in exc.field_errors().items():
        if name in values:
            errors.setdefault(name, message)
        elif message:
            loose.append(message)
    return {"values": values, "errors": errors, "message": " ".join(dict.fromkeys(m for m in loose if m))}


@router.post(f"{PATH}/penghapusan", response_class=HTMLResponse)
async def erase(request: Request) -> Response:
    """Step one (no ``konfirmasi``): the complaint and reason checked, then the confirmation page naming the
    complaint; step two (``konfirmasi=ya``, from that page): the erasure asked of the API."""
    s = require_user(request, *ERASERS)
    form = await check_csrf(request)
    raw_id = form.get("complaint_id")
    values = {"complaint_id": raw_id.strip() if isinstance(raw_id, str) else ""}
    reason, reason_error = access_reason(form.get("reason"))
    values["reason"] = reason
    errors: dict[str, str] = {}
    complaint_id = _uuid_text(values["complaint_id"])
    if not values["complaint_id"]:
        errors["complaint_id"] = REQUIRED
    elif complaint_id is None:
        errors["complaint_id"] = "Isi ID pengaduan yang benar: 36 karakter dari alamat halaman pengaduannya."
    if reason_error:
        errors["reason"] = reason_error
    if errors or complaint_id is None:
        return await privacy_page(
            request, status_code=422, submitted={"values": values, "errors": errors, "message": INVALID}
        )
    values["complaint_id"] = complaint_id
    if form.get("konfirmasi") != "ya":
        try:  # the complaint as the officer may read it (masked: no access-log entry), to confirm it is the one
            complaint = await api(request).call("GET", f"/v1/complaints/{complaint_id}", token=s.token)
        except ApiProblem as exc:
            signed_out_on_401(request, exc)
            return await privacy_page(request, status_code=exc.status, submitted=_refused(values, exc))
        zone = await zone_of(request, complaint.get("kecamatan"))
        kecamatan = (await kecamatan_directory(request)).get(complaint.get("kecamatan") or "") or {}
        return render(
            request,
            "petugas_privasi_konfirmasi.html",
            title="Hapus data pribadi pengadu?",
            c=complaint,
            label=views.complaint_label(complaint),
            kecamatan_name=kecamatan.get("name", complaint.get("kecamatan")),
            status_label=views.STATUS_LABELS.get(complaint["status"], complaint["status"]),
            received=formatting.waktu(complaint["received_at"], zone),
            values=values,
        )
    try:
        done = await api(request).call(
            "POST", "/v1/privacy/erasures", token=s.token, json={"complaint_id": complaint_id, "reason": reason}
        )
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return await privacy_page(request, status_code=exc.status, submitted=_refused(values, exc))
    return redirect(
        PATH,
        f"Data pribadi pengadu pengaduan {done['complaint_id']} sudah dihapus dan permintaannya dicatat. Layanan "
        "lain menghapus salinannya dalam beberapa detik; riwayat penanganan dan nomor register tetap ada.",
        request,
    )


# -- a complaint's access log ----------------------------------------------------------------------------------------
@router.get("/petugas/pengaduan/{complaint_id}/catatan-akses", response_class=HTMLResponse)
async def access_log(request: Request, complaint_id: UUID, sebelum: str | None = None) -> Response:
    s = require_user(request, *READERS)  # the API says who of them may read it (403 for the others)
    params: dict[str, Any] = {"limit": ACCESS_LOG_PAGE}
    if sebelum and sebelum.isascii() and sebelum.isdecimal() and 0 < int(sebelum) < 2**63:
        params["before"] = int(sebelum)
    try:
        log = await api(request).call("GET", f"/v1/complaints/{complaint_id}/access-log", token=s.token, params=params)
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return not_found_page(request, exc)
    items = log["items"]
    await zone_of(request, items[0]["kecamatan"] if items else None)
    base = f"/petugas/pengaduan/{complaint_id}/catatan-akses"
    return render(
        request,
        "petugas_catatan_akses.html",
        title="Catatan akses data pribadi",
        complaint_id=complaint_id,
        rows=access_rows(items),
        older=f"{base}?sebelum={log['next_before']}" if log.get("next_before") else None,
        newest=base if "before" in params else None,
    )
