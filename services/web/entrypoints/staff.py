"""Staff and kabupaten pages (login): sign-in and sign-out here; the inbox, the complaint page with its
actions, the Buku Rekap, and the pages of personal data protection in ``staff_inbox``, ``staff_complaint``,
``staff_register`` and ``staff_privacy``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem
from services.web.entrypoints import staff_complaint, staff_inbox, staff_privacy, staff_register
from services.web.entrypoints.pages import api, check_csrf, end_session, redirect, render, session

router = APIRouter()
for _pages in (staff_inbox, staff_privacy, staff_complaint, staff_register):
    router.include_router(_pages.router)


def _home_of(user: dict) -> str:
    if user.get("role") == "pdp":  # the data-protection officer's work: the record of requests, erasures
        return staff_privacy.PATH
    return "/dasbor" if user.get("role") in ("kabupaten", "admin") else "/kotak-masuk"


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (no scheme, no //host): an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/masuk", response_class=HTMLResponse)
async def sign_in_page(request: Request, lanjut: str | None = None) -> Response:
    s = session(request)
    if s.signed_in:
        return redirect(_safe_next(lanjut) or _home_of(s.user))
    return render(request, "masuk.html", lanjut=_safe_next(lanjut) or "", username="", error=None)


@router.post("/masuk", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await check_csrf(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    lanjut = _safe_next(str(form.get("lanjut") or "")) or ""
    if not username or not password:
        return render(
            request,
            "masuk.html",
            status_code=422,
            lanjut=lanjut,
            username=username,
            error="Isi nama pengguna dan kata sandi.",
        )
    try:
        token = await api(request).call("POST", "/v1/auth/token", data={"username": username, "password": password})
        me = await api(request).call("GET", "/v1/auth/me", token=token["access_token"])
    except ApiProblem as exc:
        message = exc.message if exc.status in (401, 403, 429) else "Tidak dapat masuk. Coba lagi."
        status = exc.status if exc.status in (401, 429) else 422
        response = render(request, "masuk.html", status_code=status, lanjut=lanjut, username=username, error=message)
        if exc.retry_after:
            response.headers["Retry-After"] = exc.retry_after
        return response
    user = {k: me.get(k) for k in ("username", "full_name", "role", "kecamatan", "kabupaten", "unit")}
    session(request).sign_in(token["access_token"], user)
    return redirect(lanjut or _home_of(user))


@router.post("/keluar")
async def sign_out(request: Request) -> Response:
    await check_csrf(request)
    await end_session(request)
    response = redirect("/", "Anda sudah keluar.", request)
    # the dashboard page keeps its copy of the token in sessionStorage: the browser drops it too (honoured on
    # https and localhost)
    response.headers["Clear-Site-Data"] = '"storage"'
    return response
