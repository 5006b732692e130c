"""The admin's pages (``/admin/...``, issue #15 item 1): a kecamatan's organisation kept as data, over the accounts
API's organisation routes (``services/accounts/entrypoints/organisation.py``) with the admin's own token.

- ``/admin``: the kecamatan served here;
- ``/admin/kecamatan/{slug}``: its leaders and units, each with its head or who acts for its Kasi; forms to add a
  unit, change one, retire one (defined again from the retired list), appoint a head and end the post;
- ``/admin/kecamatan/{slug}/plh``: the Plh./Plt. named (those not yet over, or all), a form to name one, and to
  end one early;
- ``/admin/kecamatan/{slug}/pejabat``: the officials with their NIP, pangkat and golongan, and a form for each;
- ``/admin/kecamatan/{slug}/riwayat``: the organisation's change log, a page at a time.

Only for the ``admin`` role (others: the web app's 403 page). The rules are the API's: a refusal comes back with
its code, its message and the field it concerns, shown at that field of the form sent (the form open, what was
typed kept); only "required" is checked here, so an empty field is named without a round trip. Each change
ends in a redirect with what was done (a flash), as the staff pages do.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem
from services.web.domain import formatting
from services.web.domain.formatting import Zone, tanggal
from services.web.entrypoints.pages import api, check_csrf, kecamatan_choices, redirect, render, require_user, zone_of

router = APIRouter()

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # a kecamatan's slug and a unit's code: what may go into an API path
USERNAME = re.compile(r"(?!\.+$)[a-z0-9._-]{1,64}")
REQUIRED = "Wajib diisi."
INVALID = "Ada isian yang belum benar. Periksa kembali."

UNIT_KINDS = (("seksi", "Seksi"), ("subbagian", "Subbagian"))
ROLES = (
    ("camat", "Camat"),
    ("sekcam", "Sekretaris Kecamatan"),
    ("kasi", "Kasi/Kasubag (kepala unit)"),
    ("staf", "Staf"),
)
DELEGATION_KINDS = (
    ("plh", "Plh. (pelaksana harian: pejabatnya berhalangan sementara)"),
    ("plt", "Plt. (pelaksana tugas: jabatannya kosong)"),
)
GOLONGAN = tuple(
    f"{roman}/{letter}" for roman in ("I", "II", "III", "IV") for letter in "abcde" if (roman, letter) != ("I", "e")
)
# the civil service's ranks (PP 99/2000), offered as suggestions: a pangkat is free text at the API
PANGKAT = (
    "Juru Muda", "Juru Muda Tingkat I", "Juru", "Juru Tingkat I",
    "Pengatur Muda", "Pengatur Muda Tingkat I", "Pengatur", "Pengatur Tingkat I",
    "Penata Muda", "Penata Muda Tingkat I", "Penata", "Penata Tingkat I",
    "Pembina", "Pembina Tingkat I", "Pembina Utama Muda", "Pembina Utama Madya", "Pembina Utama",
)  # fmt: skip

EVENT_TITLES = {
    "UnitDefined": "Unit ditambahkan",
    "UnitChanged": "Unit diubah",
    "UnitRetired": "Unit dinonaktifkan",
    "OfficialAppointed": "Kepala unit diangkat",
    "OfficialRelieved": "Jabatan kepala unit diakhiri",
    "OfficialRankSet": "NIP, pangkat, atau golongan diubah",
    "DelegationGranted": "Plh./Plt. ditunjuk",
    "DelegationEnded": "Plh./Plt. diakhiri lebih awal",
}
# what an event's data shows, in this order
EVENT_DETAILS = (
    ("username", "Pegawai"),
    ("jabatan", "Jabatan"),
    ("code", "Kode unit"),
    ("kind", "Jenis"),
    ("name", "Nama"),
    ("short_names", "Nama lain"),
    ("role", "Peran"),
    ("unit", "Unit"),
    ("delegate", "Pelaksana"),
    ("starts_on", "Mulai"),
    ("ends_on", "Sampai"),
    ("previous_role", "Peran sebelumnya"),
    ("previous_unit", "Unit sebelumnya"),
    ("nip", "NIP"),
    ("pangkat", "Pangkat"),
    ("golongan", "Golongan"),
    ("reason", "Alasan"),
)
VALUE_LABELS = {"seksi": "Seksi", "subbagian": "Subbagian", "plh": "Plh.", "plt": "Plt.", **dict(ROLES)}
HISTORY_PAGE = 50

Page = Callable[..., Awaitable[Response]]


# -- reading ------------------------------------------------------------------------------------------------------
def _slug(slug: str) -> str:
    if not SLUG.fullmatch(slug) or len(slug) > 64:
        raise HTTPException(404)
    return slug


async def _kecamatan(request: Request, slug: str) -> dict[str, str]:
    """The kecamatan as the pages name it (404 when it is not served here)."""
    name = dict(await kecamatan_choices(request)).get(_slug(slug))
    if name is None:
        raise HTTPException(404)
    await zone_of(request, slug)  # its pages' dates and times in its kabupaten's zone
    return {"slug": slug, "name": name}


async def _get(request: Request, path: str, **params: Any) -> Any:
    """A read with the admin's token; a refusal is the error page (a 401: sign in again)."""
    return await api(request).call("GET", path, token=require_user(request, "admin").token, params=params or None)


def _today(zone: Zone) -> date:
    """Today where the kecamatan is (its kabupaten's zone), whatever the server's."""
    return formatting.today(zone, datetime.now(UTC))


def _delegation_label(d: dict, unit_titles: dict[str, str]) -> str:
    """ "Plh. Camat", "Plt. Kepala Seksi Kesejahteraan Sosial"."""
    if d["role"] == "kasi":
        return f"{d['label']} Kepala {unit_titles.get(d.get('unit') or '', d.get('unit') or 'unit')}"
    return f"{d['label']} {dict(ROLES).get(d['role'], d['role'])}"


def _delegation_state(d: dict, today: date) -> tuple[str, bool]:
    """What the list says of a delegation, and whether it can still be ended early."""
    if d.get("ended_at"):
        return "Diakhiri lebih awal", False
    if d.get("in_force"):
        return "Berlaku", True
    if date.fromisoformat(d["starts_on"]) > today:
        return "Akan berlaku", True
    return "Sudah berakhir", False


def _who(username: str, officials: dict[str, dict]) -> str:
    found = officials.get(username)
    return f"{found['full_name']} ({username})" if found else username


def _event_details(
    data: dict, unit_titles: dict[str, str], officials: dict[str, dict], delegations: dict[str, str]
) -> list[tuple[str, str]]:
    rows = []
    if "id" in data and str(data["id"]) in delegations and "delegate" not in data:  # DelegationEnded names its id
        rows.append(("Penunjukan", delegations[str(data["id"])]))
    for key, label in EVENT_DETAILS:
        if key not in data:
            continue
        value = data[key]
        if key in ("nip", "pangkat", "golongan") and value is None:
            text = "dikosongkan"
        elif value in (None, "", []):
            continue
        elif key == "short_names":
            text = ", ".join(str(v) for v in value)
        elif key in ("starts_on", "ends_on"):
            text = tanggal(str(value))
        elif key == "code" and "name" not in data:  # a unit retired: named as it was
            text = f"{unit_titles[value]} ({value})" if value in unit_titles else str(value)
        elif key in ("unit", "previous_unit"):
            text = unit_titles.get(str(value), str(value))
        elif key in ("username", "delegate"):
            text = _who(str(value), officials)
        else:
            text = VALUE_LABELS.get(str(value), str(value)) if key in ("kind", "role", "previous_role") else str(value)
        rows.append((label, text))
    return rows


# -- the forms: what was typed, what the API said ------------------------------------------------------------------
def _values(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {n: v.strip() if isinstance(v := form.get(n), str) else "" for n in names}


def _missing(values: dict[str, str], required: tuple[str, ...]) -> dict[str, str]:
    return {n: REQUIRED for n in required if not values.get(n)}


def _submitted(form_id: str, values: dict[str, str], exc: ApiProblem | None = None, **errors: str) -> dict:
    """The state of the form sent, to draw it again: its values, each field's error, and what no field holds."""
    placed = dict(errors)
    loose: list[str] = []
    if exc is not None:
        for name, message in exc.field_errors().items():
            key = name.split(".", 1)[0]
            if key in values:
                placed.setdefault(key, message)
            elif message:
                loose.append(message)
        # the refusal's own message, unless a field already says it
        if exc.message not in placed.values():
            loose.insert(0, exc.message)
    elif placed:
        loose.append(INVALID)
    return {"form": form_id, "values": values, "errors": placed, "message": " ".join(dict.fromkeys(loose)) or None}


def _on_the_page(submitted: dict | None, problem: str | None, drawn: set[str]) -> tuple[dict, str | None]:
    """A refusal of a form the page no longer draws (the unit retired, the post ended, the delegation over since
    the page was loaded) is said above the page instead."""
    if submitted and submitted.get("form") not in drawn:
        said = [submitted.get("message"), *submitted.get("errors", {}).values()]
        return {}, " ".join(dict.fromkeys(m for m in said if m)) or problem
    return submitted or {}, problem


def _short_names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


async def _send(
    request: Request,
    slug: str,
    method: str,
    path: str,
    body: dict[str, Any],
    *,
    form_id: str,
    values: dict[str, str],
    again: Page,
    done: str,
    back: str,
) -> Response:
    """The change sent with the admin's token: on success back to the page with ``done``; a 409 or 422 draws the
    page again with the form's errors; a 404 of a unit, an official or a delegation (changed meanwhile) says so
    above the page."""
    s = require_user(request, "admin")
    try:
        await api(request).call(method, path, token=s.token, json=body)
    except ApiProblem as exc:
        if exc.status in (409, 422):
            return await again(request, slug, status_code=exc.status, submitted=_submitted(form_id, values, exc))
        if exc.status == 404 and exc.code != "unknown_kecamatan":
            return await again(request, slug, status_code=404, problem=exc.message)
        raise
    return redirect(back, done, request)


def _path(slug: str, *parts: str) -> str:
    return "/".join([f"/v1/kecamatan/{slug}", *(quote(p, safe="") for p in parts)])


# -- the kecamatan served here ----------------------------------------------------------------------------------
@router.get("/admin", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    require_user(request, "admin")
    return render(
        request, "admin_beranda.html", title="Organisasi kecamatan", kecamatan=await kecamatan_choices(request)
    )


# -- units and their heads ----------------------------------------------------------------------------------------
async def units_page(
    request: Request, slug: str, *, status_code: int = 200, submitted: dict | None = None, problem: str | None = None
) -> Response:
    kecamatan = await _kecamatan(request, slug)
    units = await _get(request, _path(slug, "units"), include_retired="true")
    officials = await _get(request, _path(slug, "officials"))
    delegations = await _get(request, "/v1/delegations", kecamatan=slug)
    titles = {u["code"]: u["title"] for u in units}
    leaders = []
    for role in ("camat", "sekcam"):
        acting = [d for d in delegations if d["role"] == role and d["in_force"]]
        leaders.append(
            {
                "title": dict(ROLES)[role],
                "holders": [o for o in officials if o["role"] == role],
                "acting": [{**d, "who": _who(d["delegate"], {o["username"]: o for o in officials})} for d in acting],
            }
        )
    appointable = [o for o in officials if o["role"] in ("staf", "kasi")]
    drawn = {"tambah-unit"}
    for u in units:
        if not u["active"]:
            drawn.add(f"aktifkan-{u['code']}")
        elif u["head"]:
            drawn |= {f"ubah-{u['code']}", f"akhiri-kepala-{u['code']}"}
        else:
            drawn |= {f"ubah-{u['code']}", f"kepala-{u['code']}", f"nonaktifkan-{u['code']}"}
    submitted, problem = _on_the_page(submitted, problem, drawn)
    return render(
        request,
        "admin_organisasi.html",
        status_code=status_code,
        title=f"Organisasi Kecamatan {kecamatan['name']}",
        k=kecamatan,
        tab="unit",
        units=[u for u in units if u["active"]],
        retired=[u for u in units if not u["active"]],
        leaders=leaders,
        appointable=appointable,
        titles=titles,
        unit_kinds=UNIT_KINDS,
        submitted=submitted,
        problem=problem,
    )


@router.get("/admin/kecamatan/{slug}", response_class=HTMLResponse)
async def organisation(request: Request, slug: str) -> Response:
    require_user(request, "admin")
    return await units_page(request, slug)


UNIT_FIELDS = ("code", "kind", "name", "short_names")


@router.post("/admin/kecamatan/{slug}/unit", response_class=HTMLResponse)
async def add_unit(request: Request, slug: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, UNIT_FIELDS)
    form_id = str(form.get("formulir") or "tambah-unit")  # "tambah-unit", or a retired unit's "aktifkan-<code>"
    form_id = form_id if SLUG.fullmatch(form_id) else "tambah-unit"
    if errors := _missing(values, ("code", "kind", "name")):
        return await units_page(request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors))
    body = {
        "code": values["code"],
        "kind": values["kind"],
        "name": values["name"],
        "short_names": _short_names(values["short_names"]),
    }
    # a retired unit's form holds its fields hidden: what the API says goes above the form
    shown = values if form_id == "tambah-unit" else {}
    return await _send(
        request, _slug(slug), "POST", _path(slug, "units"), body, form_id=form_id, values=shown, again=units_page,
        done=f"Unit {dict(UNIT_KINDS).get(values['kind'], '')} {values['name']} ditambahkan.".replace("  ", " "),
        back=f"/admin/kecamatan/{slug}",
    )  # fmt: skip


def _code(code: str) -> str:
    if not SLUG.fullmatch(code) or len(code) > 40:
        raise HTTPException(404)
    return code


@router.post("/admin/kecamatan/{slug}/unit/{code}/ubah", response_class=HTMLResponse)
async def change_unit(request: Request, slug: str, code: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, ("kind", "name", "short_names"))
    form_id = f"ubah-{_code(code)}"
    if errors := _missing(values, ("kind", "name")):
        return await units_page(request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors))
    body = {"kind": values["kind"], "name": values["name"], "short_names": _short_names(values["short_names"])}
    return await _send(
        request, _slug(slug), "PATCH", _path(slug, "units", code), body, form_id=form_id, values=values,
        again=units_page, done="Unit sudah diubah.", back=f"/admin/kecamatan/{slug}",
    )  # fmt: skip


@router.post("/admin/kecamatan/{slug}/unit/{code}/nonaktifkan", response_class=HTMLResponse)
async def retire_unit(request: Request, slug: str, code: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, ("reason",))
    form_id = f"nonaktifkan-{_code(code)}"
    if errors := _missing(values, ("reason",)):
        return await units_page(request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors))
    return await _send(
        request, _slug(slug), "POST", _path(slug, "units", code, "retire"), values, form_id=form_id, values=values,
        again=units_page, done="Unit sudah dinonaktifkan: tidak dapat lagi menerima disposisi.",
        back=f"/admin/kecamatan/{slug}",
    )  # fmt: skip


@router.post("/admin/kecamatan/{slug}/unit/{code}/kepala", response_class=HTMLResponse)
async def appoint_head(request: Request, slug: str, code: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, ("username",))
    form_id = f"kepala-{_code(code)}"
    if errors := _missing(values, ("username",)):
        return await units_page(request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors))
    return await _send(
        request, _slug(slug), "POST", _path(slug, "units", code, "head"), values, form_id=form_id, values=values,
        again=units_page, back=f"/admin/kecamatan/{slug}",
        done=f"{values['username']} diangkat menjadi kepala unit. Ia perlu masuk kembali untuk bekerja sebagai Kasi/Kasubag.",
    )  # fmt: skip


@router.post("/admin/kecamatan/{slug}/unit/{code}/kepala/akhiri", response_class=HTMLResponse)
async def relieve_head(request: Request, slug: str, code: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, ("reason",))
    form_id = f"akhiri-kepala-{_code(code)}"
    if errors := _missing(values, ("reason",)):
        return await units_page(request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors))
    return await _send(
        request, _slug(slug), "POST", _path(slug, "units", code, "head", "end"), values, form_id=form_id,
        values=values, again=units_page, back=f"/admin/kecamatan/{slug}",
        done="Jabatan kepala unit sudah diakhiri; pejabatnya kini staf kecamatan.",
    )  # fmt: skip


# -- Plh. and Plt. ------------------------------------------------------------------------------------------------
async def delegations_page(
    request: Request, slug: str, *, status_code: int = 200, submitted: dict | None = None, problem: str | None = None
) -> Response:
    kecamatan = await _kecamatan(request, slug)
    all_of_them = request.query_params.get("semua") == "1"
    params = {"kecamatan": slug, **({"include_past": "true"} if all_of_them else {})}
    found = await _get(request, "/v1/delegations", **params)
    if not all_of_them:  # the API lists one ended early until its last day: here it is over
        found = [d for d in found if not d.get("ended_at")]
    units = await _get(request, _path(slug, "units"), include_retired="true")
    officials = await _get(request, _path(slug, "officials"))
    titles = {u["code"]: u["title"] for u in units}
    by_name = {o["username"]: o for o in officials}
    today = _today(await zone_of(request, slug))
    rows = []
    for d in found:
        state, open_ = _delegation_state(d, today)
        rows.append(
            {**d, "title": _delegation_label(d, titles), "who": _who(d["delegate"], by_name), "state": state,
             "may_end": open_, "granted_by_who": _who(d["granted_by"], by_name)}
        )  # fmt: skip
    drawn = {"plh-baru"} | {f"akhiri-{d['id']}" for d in rows if d["may_end"]}
    submitted, problem = _on_the_page(submitted, problem, drawn)
    return render(
        request,
        "admin_plh.html",
        status_code=status_code,
        title=f"Plh. dan Plt. Kecamatan {kecamatan['name']}",
        k=kecamatan,
        tab="plh",
        rows=rows,
        all_of_them=all_of_them,
        roles=ROLES,
        kinds=DELEGATION_KINDS,
        units=[u for u in units if u["active"]],
        officials=officials,
        today=today.isoformat(),
        submitted=submitted,
        problem=problem,
    )


@router.get("/admin/kecamatan/{slug}/plh", response_class=HTMLResponse)
async def delegations(request: Request, slug: str) -> Response:
    require_user(request, "admin")
    return await delegations_page(request, slug)


DELEGATION_FIELDS = ("role", "unit", "delegate", "kind", "starts_on", "ends_on", "reason")


@router.post("/admin/kecamatan/{slug}/plh", response_class=HTMLResponse)
async def grant(request: Request, slug: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, DELEGATION_FIELDS)
    errors = _missing(values, ("role", "delegate", "kind", "starts_on", "ends_on", "reason"))
    for name in ("starts_on", "ends_on"):
        if values[name] and name not in errors:
            try:
                date.fromisoformat(values[name])
            except ValueError:
                errors[name] = "Tulis tanggal seperti 2026-12-07."
    if values["role"] == "kasi" and not values["unit"]:
        errors["unit"] = "Pilih unit yang kepalanya diwakili."
    if values["kind"] and values["kind"] not in dict(DELEGATION_KINDS) and "kind" not in errors:
        errors["kind"] = "Pilih Plh. atau Plt."
    if errors:
        return await delegations_page(
            request, _slug(slug), status_code=422, submitted=_submitted("plh-baru", values, **errors)
        )
    body = {**values, "kecamatan": slug}
    if not body["unit"]:
        body.pop("unit")
    return await _send(
        request, _slug(slug), "POST", "/v1/delegations", body, form_id="plh-baru", values=values,
        again=delegations_page, back=f"/admin/kecamatan/{slug}/plh",
        done=f"{dict(DELEGATION_KINDS)[values['kind']].split(' ')[0]} sudah ditunjuk: {values['delegate']}, "
        f"{tanggal(values['starts_on'])} sampai {tanggal(values['ends_on'])}.",
    )  # fmt: skip


@router.post("/admin/kecamatan/{slug}/plh/{delegation_id}/akhiri", response_class=HTMLResponse)
async def end_delegation(request: Request, slug: str, delegation_id: UUID) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    values = _values(form, ("reason",))
    form_id = f"akhiri-{delegation_id}"
    if errors := _missing(values, ("reason",)):
        return await delegations_page(
            request, _slug(slug), status_code=422, submitted=_submitted(form_id, values, **errors)
        )
    return await _send(
        request, _slug(slug), "POST", f"/v1/delegations/{delegation_id}/end", values, form_id=form_id,
        values=values, again=delegations_page, back=f"/admin/kecamatan/{slug}/plh",
        done="Plh./Plt. sudah diakhiri: mulai sekarang ia tidak lagi bertindak untuk jabatan itu.",
    )  # fmt: skip


# -- officials' NIP, pangkat, golongan ----------------------------------------------------------------------------
async def officials_page(
    request: Request, slug: str, *, status_code: int = 200, submitted: dict | None = None, problem: str | None = None
) -> Response:
    kecamatan = await _kecamatan(request, slug)
    officials = await _get(request, _path(slug, "officials"))
    submitted, problem = _on_the_page(submitted, problem, {f"pangkat-{o['username']}" for o in officials})
    return render(
        request,
        "admin_pejabat.html",
        status_code=status_code,
        title=f"Pejabat Kecamatan {kecamatan['name']}",
        k=kecamatan,
        tab="pejabat",
        officials=officials,
        golongan=GOLONGAN,
        pangkat=PANGKAT,
        submitted=submitted,
        problem=problem,
    )


@router.get("/admin/kecamatan/{slug}/pejabat", response_class=HTMLResponse)
async def officials(request: Request, slug: str) -> Response:
    require_user(request, "admin")
    return await officials_page(request, slug)


RANK_FIELDS = ("nip", "pangkat", "golongan")


@router.post("/admin/kecamatan/{slug}/pejabat/{username}", response_class=HTMLResponse)
async def set_rank(request: Request, slug: str, username: str) -> Response:
    require_user(request, "admin")
    form = await check_csrf(request)
    if not USERNAME.fullmatch(username):
        raise HTTPException(404)
    values = _values(form, RANK_FIELDS)
    before = _values(form, tuple(f"asal_{n}" for n in RANK_FIELDS))
    # only what changed is sent (and recorded); the API refuses an empty change (nothing_to_change)
    body = {n: values[n] for n in RANK_FIELDS if values[n] != before[f"asal_{n}"]}
    tte_nik = form.get("tte_nik")  # the NIK for BSrE: shown masked, so only a new one typed in is sent
    values["tte_nik"] = tte_nik.strip() if isinstance(tte_nik, str) else ""
    if values["tte_nik"]:
        body["tte_nik"] = values["tte_nik"]
    return await _send(
        request, _slug(slug), "PATCH", _path(slug, "officials", username), body, form_id=f"pangkat-{username}",
        values=values, again=officials_page, back=f"/admin/kecamatan/{slug}/pejabat",
        done=f"NIP, pangkat, golongan, dan NIK TTE {username} sudah disimpan.",
    )  # fmt: skip


# -- the change log -----------------------------------------------------------------------------------------------
@router.get("/admin/kecamatan/{slug}/riwayat", response_class=HTMLResponse)
async def history(request: Request, slug: str, sebelum: int | None = None) -> Response:
    require_user(request, "admin")
    kecamatan = await _kecamatan(request, slug)
    params: dict[str, Any] = {"limit": HISTORY_PAGE}
    if sebelum is not None and 0 < sebelum < 2**63:
        params["before"] = sebelum
    found = await _get(request, _path(slug, "org-events"), **params)
    units = await _get(request, _path(slug, "units"), include_retired="true")
    officials = {o["username"]: o for o in await _get(request, _path(slug, "officials"), include_inactive="true")}
    titles = {u["code"]: u["title"] for u in units}
    named = {
        d["id"]: f"{_delegation_label(d, titles)}, {_who(d['delegate'], officials)}"
        for d in await _get(request, "/v1/delegations", kecamatan=slug, include_past="true")
    }
    events = [
        {
            "title": EVENT_TITLES.get(e["type"], e["type"]),
            "at": e["recorded_at"],
            "who": "baris perintah (" + e["actor"][4:] + ")" if e["actor"].startswith("cli:") else _who(e["actor"], officials),
            "details": _event_details(e["data"], titles, officials, named),
        }
        for e in found
    ]  # fmt: skip
    older = None
    if len(found) == HISTORY_PAGE:
        older = f"/admin/kecamatan/{slug}/riwayat?" + urlencode({"sebelum": found[-1]["position"]})
    return render(
        request,
        "admin_riwayat.html",
        title=f"Riwayat perubahan organisasi Kecamatan {kecamatan['name']}",
        k=kecamatan,
        tab="riwayat",
        events=events,
        older=older,
        newest=f"/admin/kecamatan/{slug}/riwayat" if sebelum is not None else None,
    )
