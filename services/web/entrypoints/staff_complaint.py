"""The complaint page of the staff (``/petugas/pengaduan/{id}``): who complained, about what, the timeline
against the SOP, documents and scans, and the form of each action the signed-in person may take now.
Kabupaten users read it (masked by the API: ``shared.masking``), act on nothing and open no scan or PDF.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem, ApiUnavailable
from services.web.domain import formatting
from services.web.entrypoints import staff_actions as actions
from services.web.entrypoints import staff_views as views
from services.web.entrypoints.pages import (
    ROLE_LABELS,
    SignInRequired,
    api,
    check_csrf,
    kecamatan_directory,
    redirect,
    render,
    require_user,
    session,
    zone_of,
)

router = APIRouter()
SHA256 = re.compile(r"[0-9a-f]{64}")

STAFF_ROLES = ("staf", "kasi", "sekcam", "camat")
READERS = (*STAFF_ROLES, "kabupaten", "pdp", "admin")
# who may read a complaint's access log, as the API says (GET /v1/complaints/{id}/access-log: the Camat of its
# kecamatan, the data-protection officer of its kabupaten, admins); only these are asked
ACCESS_LOG_READERS = ("camat", "pdp", "admin")
ERASERS = ("pdp", "admin")  # POST /v1/privacy/erasures
STALE = "Pengaduan ini sudah ditindaklanjuti orang lain. Muat ulang halaman untuk melihat keadaan terbaru."


def signed_out_on_401(request: Request, exc: ApiProblem) -> None:
    """An expired or revoked token: sign in again, then come back."""
    if exc.status == 401:
        session(request).sign_out()
        raise SignInRequired


def not_found_page(request: Request, exc: ApiProblem) -> HTMLResponse:
    title = "Pengaduan tidak ditemukan" if exc.status == 404 else "Tidak diizinkan"
    message = exc.message if exc.status == 404 else (exc.message or "Pengaduan ini bukan untuk akun Anda.")
    if exc.status == 404:
        message += " Pengaduan kecamatan lain tidak dapat dibuka dari akun Anda."
    return render(request, "galat.html", status_code=404 if exc.status == 404 else 403, title=title, message=message)


async def load_complaint(request: Request, complaint_id: UUID) -> dict:
    s = session(request)
    return await api(request).call("GET", f"/v1/complaints/{complaint_id}", token=s.token)


async def load_documents(request: Request, complaint_id: UUID) -> list[dict] | None:
    """The complaint's documents; None when the letters service cannot be reached (the page says so and
    still opens: the complaint and its forms do not depend on it)."""
    try:
        docs = await api(request).call("GET", f"/v1/letters/complaints/{complaint_id}", token=session(request).token)
    except ApiUnavailable:
        return None
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return []  # 404: no document yet (the receipt is rendered by the letters worker)
    return views.labelled_documents(docs)


def step_forms(
    complaint: dict, units: list[dict] | None = None, kecamatan: dict | None = None
) -> tuple[list[actions.Action], list[actions.Action]]:
    """The step's own actions and the any-step ones (withdraw, duplicate) the API says this user may take; a
    disposition's unit is chosen from ``units`` (the kecamatan's, with a head), a letter's classification code from
    its kabupaten's list (``kecamatan``: as ``GET /v1/kecamatan`` lists it)."""
    allowed = [a for a in complaint.get("allowed_actions", []) if a in actions.ACTIONS]
    own = [
        _with_categories(
            _with_passphrase(
                _with_klasifikasi(_with_units(actions.ACTIONS[a], units or []), kecamatan or {}), kecamatan
            ),
            kecamatan or {},
            complaint.get("category"),
        )
        for a in allowed
        if a not in actions.ANY_STEP
    ]
    other = [actions.ACTIONS[a] for a in allowed if a in actions.ANY_STEP]
    return own, other


def _with_units(spec: actions.Action, units: list[dict]) -> actions.Action:
    if not any(f.name == "unit" for f in spec.fields):
        return spec
    options = tuple((u["code"], f"{u['title']} ({u['head']['name']})") for u in units if u.get("head"))
    fields = tuple(
        dataclasses.replace(f, options=options if f.required else (("", "Unit yang sama"), *options))
        if f.name == "unit"
        else f
        for f in spec.fields
    )
    return dataclasses.replace(spec, fields=fields)


def _with_klasifikasi(spec: actions.Action, kecamatan: dict) -> actions.Action:
    """The kabupaten's codes as the choices, the kind of letter's default chosen; no list known: no field (the API
    takes the default)."""
    if not any(f.name == "klasifikasi" for f in spec.fields):
        return spec
    codes = kecamatan.get("klasifikasi") or {}
    default = (kecamatan.get("klasifikasi_default") or {}).get(actions.LETTER_OF.get(spec.name, ""))
    choices = tuple((c, f"{c} {t}") for c, t in codes.items())
    fields = tuple(
        dataclasses.replace(f, options=choices, default=default) if f.name == "klasifikasi" else f
        for f in spec.fields
        if f.name != "klasifikasi" or codes
    )
    return dataclasses.replace(spec, fields=fields)


def _with_categories(spec: actions.Action, kecamatan: dict, current: str | None) -> actions.Action:
    """The kabupaten's categories as the choices, the complaint's own chosen."""
    if spec.name != "categorize":
        return spec
    choices = tuple((code, name) for code, name in (kecamatan.get("categories") or {}).items())
    if not current:  # nothing chosen for the person: the first category is not preselected
        choices = (("", "— Pilih kategori —"), *choices)
    fields = tuple(
        dataclasses.replace(f, options=choices, default=current) if f.name == "category" else f for f in spec.fields
    )
    return dataclasses.replace(spec, fields=fields)


def _with_passphrase(spec: actions.Action, kecamatan: dict | None) -> actions.Action:
    """Where the kecamatan signs through BSrE: the signature asks for the signer's passphrase."""
    if spec.name != "sign-letter" or (kecamatan or {}).get("signature_service") != "bsre":
        return spec
    return dataclasses.replace(spec, fields=(*spec.fields, actions.PASSPHRASE_FIELD), intro=actions.BSRE_SIGN_INTRO)


def _who(unit: dict) -> str:
    """The unit's head, or who acts for its Kasi today (a Plt. for a vacant post)."""
    if unit.get("head"):
        return unit["head"]["name"]
    acting = unit["acting"]
    return f"{acting['label']} {acting['username']}"


async def load_units(request: Request, complaint: dict) -> list[dict]:
    """The kecamatan's units, for a disposition's list; none when the page offers no disposition (or the API
    cannot say: the form then shows an empty list and the API's refusal explains)."""
    if not {"dispose", "redispose"} & set(complaint.get("allowed_actions", [])):
        return []
    try:
        return await api(request).call(
            "GET", f"/v1/kecamatan/{complaint['kecamatan']}/units", token=session(request).token
        )
    except (ApiUnavailable, ApiProblem):
        return []


async def reads_access_log(request: Request, complaint_id: UUID) -> bool:
    """Whether the signed-in user may open the complaint's access log: the API's answer to a one-entry read, asked
    for the roles it may allow only. A refusal (403) or an API out of reach: no link."""
    s = session(request)
    if s.role not in ACCESS_LOG_READERS:
        return False
    try:
        await api(request).call("GET", f"/v1/complaints/{complaint_id}/access-log", token=s.token, params={"limit": 1})
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return False
    except ApiUnavailable:
        return False
    return True


async def page(
    request: Request, complaint_id: UUID, *, status_code: int = 200, submitted: dict | None = None
) -> Response:
    try:
        complaint = await load_complaint(request, complaint_id)
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return not_found_page(request, exc)
    zone = await zone_of(request, complaint.get("kecamatan"))  # every date and time in its kabupaten's zone
    documents = await load_documents(request, complaint_id)
    directory = await kecamatan_directory(request, missing=complaint.get("kecamatan"))
    kecamatan = directory.get(complaint["kecamatan"])
    if submitted and "passphrase" in submitted.get("errors", {}):  # the API asked for it: our list may be minutes old
        kecamatan = {**(kecamatan or {}), "signature_service": "bsre"}
    own, other = step_forms(complaint, await load_units(request, complaint), kecamatan)
    definition = views.definition_of(complaint)
    current = complaint.get("current_step")
    now = datetime.now(UTC)
    due_at = views.parse_time(complaint.get("due_at"))
    anonymous = bool((complaint.get("complainant") or {}).get("anonymous"))
    send_channels = tuple(c for c in actions.SEND_CHANNELS if (c[0] == "lacak") == anonymous)
    notes: list[str] = []
    if "send-response" in complaint.get("allowed_actions", []) and anonymous:
        notes.append(
            "Pengaduan anonim: surat tanggapan diumumkan pada halaman pelacakan; pengadu membukanya dengan kode "
            "pelacakannya."
        )
    elif "send-response" in complaint.get("allowed_actions", []):  # noqa: SIM102
        if views.dispatched_waiting(complaint) or not views.has_contact(complaint):
            send_channels = tuple(c for c in send_channels if c[0] != "otomatis")
            notes.append(
                "Surat sudah dikirim otomatis dan menunggu tanda terima dari penyedia layanan; bila gagal, kirim lewat "
                "pos, kurir, atau serahkan langsung."
                if views.dispatched_waiting(complaint)
                else "Pengadu tidak meninggalkan e-mail atau nomor telepon: kirim lewat pos, kurir, atau serahkan langsung."
            )
    user = session(request).user or {}
    waiting_for_letter = (
        current
        and current["number"] == 11
        and user.get("role") == current.get("role")
        and "archive-letter" not in complaint.get("allowed_actions", [])
        and complaint["status"] != "closed"
    )
    # a message about a form this page no longer draws (someone else moved the complaint on): above the forms
    drawn = {a.name for a in (*own, *other)}
    loose = submitted if submitted and submitted.get("message") and submitted.get("action") not in drawn else None
    referral = views.referral_of(complaint)
    access_log = await reads_access_log(request, complaint_id)
    return render(
        request,
        "petugas_pengaduan.html",
        status_code=status_code,
        loose=loose,
        title=f"Pengaduan {views.complaint_label(complaint)}",
        label=views.complaint_label(complaint),
        c=complaint,
        category_names=(kecamatan or {}).get("categories") or {},
        documents=documents,
        attachments=views.attachments_of(complaint),
        timeline=views.timeline(complaint, ROLE_LABELS, zone),
        own_forms=own,
        other_forms=other,
        labels=actions.ACTION_LABELS,
        submitted=submitted or {},
        status_label=views.STATUS_LABELS.get(complaint["status"], complaint["status"]),
        outcome_label=views.OUTCOME_LABELS.get(complaint.get("outcome") or "", complaint.get("outcome")),
        channel_label=views.CHANNEL_LABELS.get(complaint["channel"], complaint["channel"]),
        current_standard=views.standard_text(definition.step(current["number"])) if current else None,
        due_at=due_at,
        due_state=views.due_state(due_at, complaint.get("overdue", False), now) if current else None,
        send_channels=send_channels,
        form_notes=notes,
        waiting_for_letter=waiting_for_letter,
        read_only=user.get("role") not in STAFF_ROLES,
        access_log_url=f"/petugas/pengaduan/{complaint_id}/catatan-akses" if access_log else None,
        erasure_url=(
            f"/petugas/privasi?pengaduan={complaint_id}#hapus"
            if user.get("role") in ERASERS and complaint["status"] == "closed"
            else None
        ),
        referral=referral,
        earlier_duplicates=_earlier(complaint),
        referral_until=formatting.tanggal(referral.follow_up_by, zone) if referral and referral.follow_up_by else None,
        referral_answered_on=(
            formatting.tanggal(referral.answer["answered_on"], zone)
            if referral and referral.answer and referral.answer.get("answered_on")
            else None
        ),
    )


def _earlier(complaint: dict) -> set[str]:
    """The possible duplicates received before this complaint: the originals it may be marked a duplicate of (a
    later one is marked from its own page)."""
    received = views.parse_time(complaint.get("received_at"))
    return {
        d["complaint_id"]
        for d in complaint.get("possible_duplicates") or []
        if received and (at := views.parse_time(d.get("received_at"))) and at < received
    }


@router.get("/petugas/pengaduan/{complaint_id}", response_class=HTMLResponse)
async def complaint_page(request: Request, complaint_id: UUID) -> Response:
    require_user(request, *READERS)
    return await page(request, complaint_id)


@router.post("/petugas/pengaduan/{complaint_id}/{action}", response_class=HTMLResponse)
async def perform(request: Request, complaint_id: UUID, action: str) -> Response:
    s = require_user(request, *STAFF_ROLES)
    form = await check_csrf(request)
    spec = actions.ACTIONS.get(action)
    if spec is None:
        return render(
            request,
            "galat.html",
            status_code=404,
            title="Tindakan tidak dikenal",
            message="Tindakan ini tidak ada. Kembali ke halaman pengaduan lalu coba lagi.",
        )
    values = actions.values_of(spec, form)
    variant = form.get("keputusan") if isinstance(form.get("keputusan"), str) else None
    original = form.get("original") if action == "mark-duplicate" else None
    if isinstance(original, str) and original:  # "Tandai duplikat dari ini" on a possible duplicate: one click
        body, errors = {"original": original}, {}
    else:
        body, errors = actions.body_of(spec, values, variant)
    passphrase = form.get("passphrase")  # sign-letter where the kecamatan signs through BSrE: as typed, kept nowhere
    if action == "sign-letter" and isinstance(passphrase, str) and passphrase:
        body["passphrase"] = passphrase
    submitted: dict[str, Any] = {"action": action, "values": values, "errors": errors}
    try:
        expected_version = int(str(form.get("expected_version") or ""))
    except ValueError:
        submitted.update(message=STALE, kind="peringatan")
        return await page(request, complaint_id, status_code=409, submitted=submitted)
    if errors:
        # drawn again from the version the person saw: a resubmit must not act on a state they never saw
        submitted.update(
            message="Ada isian yang belum benar. Periksa kembali.", kind="galat", expected_version=expected_version
        )
        return await page(request, complaint_id, status_code=422, submitted=submitted)
    try:
        await api(request).call(
            "POST",
            f"/v1/complaints/{complaint_id}/{action}",
            token=s.token,
            json={"expected_version": expected_version, **body},
            # the page is read again after the action (below): the action's answer need not be the whole complaint
            headers={"Prefer": "return=minimal"},
            # through BSrE, step 10 waits for BSrE's answer (its retries included): never give up before the API
            **({"timeout": SIGNING_TIMEOUT} if action == "sign-letter" else {}),
        )
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        if exc.status == 404:
            return not_found_page(request, exc)
        if exc.status == 409 and exc.code == "stale_version":
            submitted.update(message=STALE, kind="peringatan")
        elif exc.status == 422:
            known = {f.name for f in spec.fields} | ({"passphrase"} if action == "sign-letter" else set())
            if exc.code in actions.CODE_FIELDS and actions.CODE_FIELDS[exc.code] in known:  # about one field
                submitted["errors"].setdefault(actions.CODE_FIELDS[exc.code], exc.message)
            for name, message in exc.field_errors().items():
                key = name.split(".", 1)[0]
                if key in known:
                    submitted["errors"].setdefault(key, message)
            unplaced = [m for n, m in exc.field_errors().items() if n.split(".", 1)[0] not in known]
            submitted.update(
                message=" ".join([exc.message, *unplaced]), kind="galat", expected_version=expected_version
            )
        else:
            submitted.update(message=exc.message, kind="galat")
        return await page(request, complaint_id, status_code=exc.status, submitted=submitted)
    return redirect(f"/petugas/pengaduan/{complaint_id}", actions.done_message(action, body), request)


SIGNING_TIMEOUT = 40.0  # seconds: longer than the gateway's 30 s, which is longer than the workflow's 25 s for BSrE


def _disposition(upstream: str | None, inline: bool) -> str:
    """The API's Content-Disposition with its filename kept, as ``inline`` (preview) or ``attachment``."""
    kind = "inline" if inline else "attachment"
    if not upstream:
        return kind
    _, _, rest = upstream.partition(";")
    return f"{kind};{rest}" if rest else kind


def _passed_on(r, inline: bool) -> Response:
    """The file as the API sent it. Only an image opens in the browser (``inline``, for ``Lihat``); a PDF or
    anything else is always a download, and every answer is sandboxed (no script, no cookie) and unsniffed."""
    content_type = r.headers.get("content-type", "application/octet-stream")
    inline = inline and content_type.split(";")[0].strip() in views.INLINE_TYPES
    return Response(
        r.content,
        media_type=content_type,
        headers={
            "Content-Disposition": _disposition(r.headers.get("content-disposition"), inline),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


def _file_problem(request: Request, r, title: str) -> Response:
    if r.status_code == 401:
        session(request).sign_out()
        raise SignInRequired
    if r.status_code >= 500:
        from services.web.adapters.api_client import ApiUnavailable

        raise ApiUnavailable(f"HTTP {r.status_code}")
    try:
        message = r.json().get("message") or title
    except ValueError:
        message = title
    return render(
        request, "galat.html", status_code=404 if r.status_code == 404 else r.status_code, title=title, message=message
    )


@router.get("/petugas/lampiran/{sha256}")
async def attachment(request: Request, sha256: str, pengaduan: UUID | None = None, unduh: bool = False) -> Response:
    """A scan or photo, fetched with the user's token (the API checks who may see it)."""
    s = require_user(request, *READERS)
    if not SHA256.fullmatch(sha256):  # only a digest goes into the API's path (no "..", no query)
        raise HTTPException(404)
    params = {"complaint_id": str(pengaduan)} if pengaduan else None
    r = await api(request).raw("GET", f"/v1/attachments/{sha256}", token=s.token, params=params)
    if r.status_code != 200:
        return _file_problem(request, r, "Lampiran tidak ditemukan")
    inline = not unduh and r.headers.get("content-type", "").split(";")[0] in views.PREVIEWABLE
    return _passed_on(r, inline)


@router.get("/petugas/dokumen/{document_id}.pdf")
async def document(request: Request, document_id: UUID, unduh: bool = False) -> Response:
    """A receipt, a draft or the signed letter as PDF: inline for the browser's preview, or to download."""
    s = require_user(request, *READERS)
    r = await api(request).raw("GET", f"/v1/letters/{document_id}/pdf", token=s.token)
    if r.status_code != 200:
        return _file_problem(request, r, "Dokumen tidak ditemukan")
    return _passed_on(r, not unduh)


@router.get("/petugas/pengaduan/{complaint_id}/kartu-kendali.pdf")
async def control_card(request: Request, complaint_id: UUID) -> Response:
    """The Kartu Kendali (every step: who, when, against its standard time) as it stands now, rendered by the
    letters API on demand: a download, like every PDF here."""
    s = require_user(request, *READERS)
    r = await api(request).raw("GET", f"/v1/letters/complaints/{complaint_id}/kartu-kendali.pdf", token=s.token)
    if r.status_code != 200:
        return _file_problem(request, r, "Kartu Kendali tidak dapat dibuat")
    return _passed_on(r, inline=False)
