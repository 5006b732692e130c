"""Structured logs: one JSON object per line, with the process kind. Never log personal data: log ids."""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter


class HideTaskArguments(logging.Filter):
    """Celery logs a task's arguments (``data.args``) on success and failure; they carry personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if isinstance(data, dict) and ("args" in data or "kwargs" in data):
            record.data = {**data, "args": "<hidden>", "kwargs": "<hidden>"}
        return True


def setup_logging(process: str, level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"process_kind": process},
        )
    )
    handler.addFilter(HideTaskArguments())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("PENGADUAN_LOG_LEVEL", "INFO"))
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pyHanko logs a traceback for every untrusted signature; the verification page reports it anyway
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
