"""The intake benchmark's baseline: the least a FastAPI service can do for a complaint.

One POST endpoint, a plain ``dict`` body (no schema, no NIK/phone/e-mail checks, no kecamatan lookup,
no outbox, no NOTIFY, no logging), one INSERT into ``bench.bare_submissions`` (the columns of
``intake.submissions``) in its own transaction, a small JSON answer. Same stack as intake: FastAPI sync
route (threadpool), SQLAlchemy engine built by ``shared.db.make_engine`` (same pool), uvicorn with the
same options as ``pengaduan api``.

    python -m bench.bare_app --port 8099      (reads PENGADUAN_DATABASE_URL)
"""

from __future__ import annotations

import argparse
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert

from bench.schema import bare_submissions


def create_app() -> FastAPI:
    from shared.config import Settings
    from shared.db import make_engine

    engine = make_engine(Settings())
    app = FastAPI(title="bench: bare submissions")

    @app.post("/v1/complaints", status_code=202)
    def submit(body: dict[str, Any]) -> dict[str, Any]:
        received_at = datetime.now(UTC)
        code = secrets.token_hex(6).upper()
        with engine.begin() as conn:
            conn.execute(
                insert(bare_submissions).values(
                    id=uuid.uuid4(),
                    complaint_id=uuid.uuid4(),
                    tracking_code=code,
                    kecamatan=str(body.get("kecamatan", "")),
                    channel=str(body.get("channel", "")),
                    received_at=received_at,
                    complainant=body.get("complainant") or {},
                    subject=str(body.get("subject", "")),
                    description=str(body.get("description", "")),
                )
            )
        return {"tracking_code": code, "status": "received", "received_at": received_at.isoformat()}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m bench.bare_app", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
