"""The Buku Rekap Pengaduan (``/buku-rekap``): a kecamatan's register, by period, paged, with its XLSX and
CSV downloads passed on from ``GET /v1/register`` (the API masks personal data for kabupaten users).

A download is a form (``POST /buku-rekap.xlsx`` or ``.csv``, CSRF) asking why: the reason, required, one line, at
most 500 characters, goes to the API as ``X-Access-Reason`` and into the access log of every complaint whose
personal data the file holds. A link to a download (``GET``) opens that form."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem, ApiUnavailable
from services.web.entrypoints.pages import api, check_csrf, kecamatan_directory, render, require_user, zone_of
from services.web.entrypoints.staff_complaint import READERS, signed_out_on_401
from services.web.entrypoints.staff_privacy import access_reason
from shared.access_log import REASON_HEADER

router = APIRouter()

PAGE_SIZE = 25
FILTERS = {"kecamatan": "kecamatan", "dari": "from", "sampai": "to"}  # the page's names -> the API's


def _filters(kecamatan: str | None, dari: str | None, sampai: str | None) -> dict[str, str]:
    given = {"kecamatan": kecamatan, "dari": dari, "sampai": sampai}
    return {k: v.strip() for k, v in given.items() if v and v.strip()}


def _api_params(filters: dict[str, str]) -> dict[str, str]:
    return {FILTERS[k]: v for k, v in filters.items()}


async def _kecamatan_choices(request: Request, user: dict) -> list[dict]:
    """The kecamatan a kabupaten user may choose: those of their kabupaten (an admin: all), from the public
    list ``GET /v1/kecamatan``."""
    items = (await kecamatan_directory(request)).values()
    mine = [k for k in items if user.get("role") == "admin" or k["kabupaten"] == user.get("kabupaten")]
    return sorted(mine, key=lambda k: k["name"])


@router.get("/buku-rekap", response_class=HTMLResponse)
async def register_page(
    request: Request,
    kecamatan: str | None = None,
    dari: str | None = None,
    sampai: str | None = None,
    halaman: str | None = None,
) -> Response:
    s = require_user(request, *READERS)
    staff = s.role not in ("kabupaten", "pdp", "admin")
    filters = _filters(None if staff else kecamatan, dari, sampai)
    choices = [] if staff else await _kecamatan_choices(request, s.user or {})
    try:
        page_no = max(1, int(halaman or 1))
    except ValueError:
        page_no = 1
    context = dict(
        title="Buku Rekap Pengaduan",
        filters=filters,
        choices=choices,
        staff=staff,
        book=None,
        errors={},
        error=None,
        query=urlencode(filters),
        prev_url=None,
        next_url=None,
    )
    if not staff and "kecamatan" not in filters:
        return render(request, "petugas_buku_rekap.html", **context)
    # its dates in the kabupaten's zone (the API reads the period's dates in it too)
    await zone_of(request, filters.get("kecamatan") or (s.user or {}).get("kecamatan"))
    try:
        book = await api(request).call(
            "GET",
            "/v1/register",
            token=s.token,
            params={
                **_api_params(filters),
                "page": page_no,
                "page_size": PAGE_SIZE,
            },
        )
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        names = {v: k for k, v in FILTERS.items()}
        context["errors"] = {names.get(f, f): m for f, m in exc.field_errors().items()}
        context["error"] = exc.message
        return render(request, "petugas_buku_rekap.html", status_code=exc.status, **context)
    base = "/buku-rekap?" + (context["query"] + "&" if context["query"] else "")
    if book["page"] > 1:
        context["prev_url"] = f"{base}halaman={book['page'] - 1}"
    if book["page"] < book["pages"]:
        context["next_url"] = f"{base}halaman={book['page'] + 1}"
    context["book"] = book
    return render(request, "petugas_buku_rekap.html", **context)


def _download_form(
    request: Request,
    fmt: str,
    filters: dict[str, str],
    *,
    status_code: int = 200,
    reason: str = "",
    error: str | None = None,
) -> Response:
    """The page asking why before a download (a download's link, or a form sent without a valid reason)."""
    return render(
        request,
        "petugas_unduh_buku_rekap.html",
        status_code=status_code,
        title="Unduh Buku Rekap Pengaduan",
        fmt=fmt,
        filters=filters,
        query=urlencode(filters),
        reason=reason,
        reason_error=error,
    )


async def _download(request: Request, fmt: str) -> Response:
    s = require_user(request, *READERS)
    form = await check_csrf(request)
    staff = s.role not in ("kabupaten", "pdp", "admin")
    given = {k: v if isinstance(v := form.get(k), str) else None for k in ("kecamatan", "dari", "sampai")}
    filters = _filters(None if staff else given["kecamatan"], given["dari"], given["sampai"])
    reason, error = access_reason(form.get("alasan"))
    if error:
        return _download_form(request, fmt, filters, status_code=422, reason=reason, error=error)
    r = await api(request).raw(
        "GET",
        "/v1/register",
        token=s.token,
        params={**_api_params(filters), "format": fmt},
        headers={REASON_HEADER: reason.encode("utf-8")},  # as UTF-8 bytes: the API reads them so
    )
    if r.status_code >= 500:
        raise ApiUnavailable(f"GET /v1/register: HTTP {r.status_code}")
    if r.status_code != 200:
        try:
            body = r.json()
        except ValueError:
            body = {}
        exc = ApiProblem(
            r.status_code,
            body.get("code", ""),
            body.get("message", "Buku rekap tidak dapat diunduh."),
            body.get("errors") or [],
        )
        signed_out_on_401(request, exc)
        if exc.code == "invalid_access_reason":  # what the API found wrong with the reason: at its field
            message = exc.field_errors().get(REASON_HEADER) or exc.message
            return _download_form(request, fmt, filters, status_code=422, reason=reason, error=message)
        return render(
            request,
            "galat.html",
            status_code=r.status_code,
            title="Buku rekap tidak dapat diunduh",
            message=exc.message,
        )
    headers = {"Cache-Control": "no-store"}
    if r.headers.get("content-disposition"):
        headers["Content-Disposition"] = r.headers["content-disposition"]
    return Response(r.content, media_type=r.headers.get("content-type"), headers=headers)


def _asked(request: Request, fmt: str, kecamatan: str | None, dari: str | None, sampai: str | None) -> Response:
    s = require_user(request, *READERS)
    staff = s.role not in ("kabupaten", "pdp", "admin")
    return _download_form(request, fmt, _filters(None if staff else kecamatan, dari, sampai))


@router.get("/buku-rekap.xlsx", response_class=HTMLResponse)
async def register_xlsx_form(
    request: Request, kecamatan: str | None = None, dari: str | None = None, sampai: str | None = None
) -> Response:
    return _asked(request, "xlsx", kecamatan, dari, sampai)


@router.get("/buku-rekap.csv", response_class=HTMLResponse)
async def register_csv_form(
    request: Request, kecamatan: str | None = None, dari: str | None = None, sampai: str | None = None
) -> Response:
    return _asked(request, "csv", kecamatan, dari, sampai)


@router.post("/buku-rekap.xlsx")
async def register_xlsx(request: Request) -> Response:
    return await _download(request, "xlsx")


@router.post("/buku-rekap.csv")
async def register_csv(request: Request) -> Response:
    return await _download(request, "csv")
