"""``pengaduan api web``: the web app (a uvicorn factory, ``create_app``).

Pages: ``public`` (citizens: home, complaint form, confirmation, tracking), ``staff`` (sign-in, inbox,
complaint, actions, register book), ``staff_entry`` (staff type in a complaint-box form, a call or a visit),
``sesi`` (the web session for the dashboard page's script); the kabupaten's dashboard (``/dasbor``) is served
by the dashboard service. Every response carries a strict Content-Security-Policy (``middleware``); failures
are pages (``errors``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware

from services.web.adapters.api_client import Api, forward_client
from services.web.bootstrap import bootstrap
from services.web.config import WebSettings
from services.web.entrypoints import admin, public, sesi, staff, staff_entry, statistics
from services.web.entrypoints.errors import install_error_pages
from services.web.entrypoints.middleware import with_session
from services.web.entrypoints.pages import WEB
from shared.gateway import LARGE_BODY_BYTES, MAX_BODY_BYTES
from shared.http import BodySizeLimitByPath, RefuseControlCharacters
from shared.metrics import install_metrics


def create_app(settings: WebSettings | None = None, api: Api | None = None) -> FastAPI:
    web = bootstrap(settings, api)
    app = FastAPI(title="pengaduan web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=web.lifespan)
    app.state.settings = web.settings
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    # the complaint forms (citizens', staff's) carry scans and photos (intake checks each file's size); every
    # other form is small
    app.add_middleware(
        BodySizeLimitByPath,
        default=MAX_BODY_BYTES,
        large=LARGE_BODY_BYTES,
        prefixes=("/pengaduan/baru", staff_entry.PATH),
    )
    app.add_middleware(RefuseControlCharacters)  # %00 and the like in a URL: 400, not a 500 from the API client
    app.add_middleware(forward_client)  # the visitor's address goes with every API call (rate limits)
    app.add_middleware(BaseHTTPMiddleware, dispatch=with_session)
    install_error_pages(app)
    app.include_router(public.router)
    app.include_router(statistics.router)  # /statistik: the public statistics, no sign-in
    app.include_router(staff_entry.router)  # before staff's /petugas/pengaduan/{complaint_id}
    app.include_router(staff.router)
    app.include_router(sesi.router)  # POST /sesi/token|keluar: the web session for the /dasbor page's script
    app.include_router(admin.router)  # /admin/...: a kecamatan's organisation, for admins

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # pages that do not name their icon (the dashboard page) ask here
        return FileResponse(
            WEB / "static" / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok", "service": "web"}

    install_metrics(app, "web")
    return app
