"""The letters API: the public verification page behind each letter's QR code (entrypoints/verify.py), the
documents themselves, for staff and for the complainant (entrypoints/documents.py), and the blank complaint form
to print (entrypoints/forms.py); inside, the signature through BSrE at step 10 the workflow asks for
(entrypoints/esign.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.letters.bootstrap import Letters, bootstrap
from services.letters.entrypoints import documents, esign, forms, verify
from shared.auth import install_auth
from shared.http import BodySizeLimit, Health, check_database, health_response, install_error_handlers
from shared.metrics import install_metrics

MAX_PDF_BYTES = 10 * 1024 * 1024  # a letter sent to POST /v1/letters/verify


def create_app(letters: Letters | None = None) -> FastAPI:
    letters = letters or bootstrap()
    app = FastAPI(
        title="pengaduan: letters", version="1", description="Signed response letters: verification and download."
    )
    app.state.letters = letters
    install_error_handlers(app)
    install_auth(app, letters.settings, letters.engine)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_PDF_BYTES)
    app.include_router(verify.router)
    app.include_router(documents.router)
    app.include_router(forms.router)
    app.include_router(esign.router)

    @app.get("/healthz", response_model=Health, summary="Health of the letters API")
    def healthz() -> JSONResponse:
        return health_response("letters", {"database": check_database(letters.engine)})

    install_metrics(app, "letters")
    return app
