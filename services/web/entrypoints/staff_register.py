"""The Buku Rekap Pengaduan (``/buku-rekap``): a kecamatan's register, by period, paged, with its XLSX and
CSV downloads passed on from ``GET /v1/register`` (the API masks personal data for kabupaten users)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem, ApiUnavailable
from services.web.entrypoints.pages import api, kecamatan_directory, render, require_user, zone_of
from services.web.entrypoints.staff_complaint import READERS, signed_out_on_401

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


async def _download(
    request: Request, fmt: str, kecamatan: str | None, dari: str | None, sampai: str | None
) -> Response:
    s = require_user(request, *READERS)
    staff = s.role not in ("kabupaten", "pdp", "admin")
    filters = _filters(None if staff else kecamatan, dari, sampai)
    r = await api(request).raw("GET", "/v1/register", token=s.token, params={**_api_params(filters), "format": fmt})
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


@router.get("/buku-rekap.xlsx")
async def register_xlsx(
    request: Request, kecamatan: str | None = None, dari: str | None = None, sampai: str | None = None
) -> Response:
    return await _download(request, "xlsx", kecamatan, dari, sampai)


@router.get("/buku-rekap.csv")
async def register_csv(
    request: Request, kecamatan: str | None = None, dari: str | None = None, sampai: str | None = None
) -> Response:
    return await _download(request, "csv", kecamatan, dari, sampai)
